"""One server at a time runs a PostgreSQL deployment's scheduled jobs and crons.

Each due job must run once across every server of the deployment. Running a scheduled mutation is
already exactly-once wherever it happens (its transaction re-reads the job's state, and writers
take turns), but the runners also recover at start: an action found ``inProgress`` is declared
interrupted. That is only true if no other server is running it, so the runners run on one server:
the holder of a session-level advisory lock (``SCHEDULER_LOCK``) on a connection of its own.

The other servers try to take the lock every ``POLL_S``. When the holder dies, PostgreSQL ends
its session and frees the lock, and the next try of another server takes it over: jobs keep
running within seconds. A holder that loses its own connection stops its runners first (the lock
went with the session) and competes again once PostgreSQL answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Final

import psycopg

from runtime.store.postgres import CONNECT_TIMEOUT_S, KEEPALIVES

# An arbitrary constant naming "the scheduler of this database" among advisory locks.
SCHEDULER_LOCK: Final = 0x6F70656E636F6E  # "opencon"
POLL_S: Final = 1.0

_log = logging.getLogger("opencom.cluster")


class SchedulerLease:
    """Runs ``start_runners`` while this server holds the lock, ``stop_runners`` when it loses it."""

    def __init__(
        self, url: str, start_runners: Callable[[], Awaitable[None]], stop_runners: Callable[[], Awaitable[None]]
    ) -> None:
        self._url = url
        self._start_runners = start_runners
        self._stop_runners = stop_runners
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self.held = False

    async def start(self) -> None:
        """Try once now (a lone server runs its jobs at once), then keep trying in the background."""
        if self._task is not None:
            return
        with suppress(psycopg.Error, OSError):
            await self._try()
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="opencom-scheduler-lease")

    async def stop(self) -> None:
        """Stop competing and give the lock back (closing the session frees it)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                if self.held:
                    assert self._connection is not None
                    await self._connection.execute("SELECT 1")  # the lock lives as long as this session
                else:
                    await self._try()
            except (psycopg.Error, OSError) as error:
                if self.held:
                    _log.warning("lost the scheduler lease with the PostgreSQL session (%s)", str(error).strip())
                await self._release()

    async def _try(self) -> None:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES
            )
        cursor = await self._connection.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK,))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            self.held = True
            await self._start_runners()

    async def _release(self) -> None:
        if self.held:
            self.held = False
            await self._stop_runners()
        if self._connection is not None:
            with suppress(psycopg.Error, OSError):
                await self._connection.close()
            self._connection = None
