"""Running a long query or mutation again on a worker thread, so the event loop keeps serving others.

Queries and mutations start on the event loop thread (no thread hop: most finish in microseconds).
One that uses more than ``knobs.LOOP_CPU_BUDGET_S`` of CPU there is interrupted by the watchdog
(``LoopBudgetSpent``, see ``runtime.time_limit``), its attempt is discarded, and it runs again from
the start on one of these workers, where its full time limit applies while the loop, switching with
it every few milliseconds (the GIL's switch interval), goes on answering other clients:

- A query has no effects. It runs again on the worker's own reader connection at that
  connection's latest snapshot (a query that had no snapshot imposed on it: it is as if it had
  arrived a moment later), and reports that snapshot's timestamp. Queries that must share an open
  snapshot (a subscription round, ``query_at_ts``) are not moved: they keep the loop until done.
- A mutation's first attempt is rolled back by the writer, and the mutation runs again beside the
  writer at a snapshot, its writes buffered, and commits only if nothing it read has changed since
  (``runtime.database.optimistic``): other mutations keep committing meanwhile. Mutations are deterministic
  over the same state, as Convex requires, so a later attempt does what the first would have
  done; its logs, read set and proofs are the ones returned (the first attempt's are dropped).
- A mutation that needs the writer itself (``runtime.database.write_buffer.NeedsWriter``) runs its next
  attempt on the worker but on the writer's connection, inside the writer's SQLite transaction
  (``OffLoop``): no other mutation runs in between, so the commit order is that of the fast path.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runtime import knobs
from runtime.store import sqlite

if TYPE_CHECKING:
    from runtime.database.transaction import Transaction

T = TypeVar("T")


class OffLoop(BaseException):
    """Raised by a mutation body to the writer: undo this attempt and await ``rerun`` instead.

    ``rerun`` receives a fresh transaction on the same savepoint and runs the mutation elsewhere.
    """

    def __init__(self, rerun: Callable[[Transaction], Awaitable[Any]]) -> None:
        super().__init__("mutation moved off the event loop")
        self.rerun = rerun


class Workers:
    """The worker threads of one database, each with its own reader connection (opened on first use)."""

    def __init__(self, path: Path, database_url: str | None) -> None:
        self._path = path
        self._database_url = database_url  # PostgreSQL's, else the SQLite file at ``path`` (runtime.store)
        self._pool = ThreadPoolExecutor(max_workers=knobs.OFF_LOOP_WORKERS, thread_name_prefix="opencom-off-loop")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a worker, in a copy of the caller's context (its logs, its job)."""
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    @contextmanager
    def snapshot(self) -> Iterator[tuple[Any, int]]:
        """A read transaction on this worker's reader connection: its rows and its commit timestamp."""
        rows: Any = getattr(self._local, "rows", None)
        if rows is None:
            rows = self._local.rows = self._open_reader()
            with self._lock:
                self._connections.append(rows.connection)
        rows.connection.execute("BEGIN")
        try:
            yield rows, int(rows.get_meta("ts") or 0)
        finally:
            rows.connection.execute("COMMIT")

    def _open_reader(self) -> Any:
        """Rows on a new reader connection of the deployment's store."""
        if self._database_url is not None:
            from runtime.store import postgres  # psycopg is only imported by deployments that use it

            return postgres.PgRows(postgres.connect(self._database_url))
        return sqlite.Rows(sqlite.connect(self._path))

    def close(self) -> None:
        """Wait for runs under way, then close the workers' connections."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
