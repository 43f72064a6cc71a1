"""What every route of one server shares: the executor, live subscriptions, auth, logs, sockets.

One ``ServerState`` exists per ``aiohttp`` application (``state_of(app)``). It is the place to plug
things in after ``create_app``: ``state.auth.verify_user_token = verifier`` installs JWT checks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from aiohttp import web

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.server.authenticator import Authenticator
from runtime.server.events import EventBus
from runtime.server.mutation_log import MutationLog
from runtime.server.outbox import Outbox
from runtime.server.subscriptions import SubscriptionManager


class Session(Protocol):
    """What the shared state reads of an open connection's ``runtime.server.sync_session.SyncSession``."""

    @property
    def outbox(self) -> Outbox: ...


class ServerState:
    """Shared state of one server (see the module docstring)."""

    def __init__(self, executor: Executor, *, admin_key: str | None = None) -> None:
        self.executor = executor
        self.events = EventBus()
        self.auth = Authenticator(admin_key)
        self.subscriptions = SubscriptionManager(executor, self.events)
        self.mutation_log = MutationLog()
        self.sockets: set[web.WebSocketResponse] = set()  # open sockets, closed explicitly on shutdown
        self.sessions: set[Session] = set()
        self.background: set[asyncio.Task[Any]] = set()  # actions, mutation workers, keep-alive: cancelled on shutdown
        self.sessions_opened = 0

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task the server cancels when it shuts down."""
        task = asyncio.create_task(coroutine, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def keep_alive(self) -> None:
        """Forever: give every connection that has been quiet for a ping interval a JSON ``Ping``.

        One sweep over all connections a few times per interval costs less than a timer per socket.
        """
        while True:
            await asyncio.sleep(knobs.SYNC_PING_INTERVAL_S / 4)
            now = time.monotonic()
            for session in self.sessions:
                session.outbox.ping_if_idle(now)

    def stats(self) -> dict[str, Any]:
        """Counters for tests and operators (``GET /api/_opencom/stats``)."""
        return {
            **self.subscriptions.stats(),
            "connections": len(self.sessions),
            "pendingFrames": sum(len(session.outbox) for session in self.sessions),
            "mergedTransitions": sum(session.outbox.merged for session in self.sessions),
            "connectionsOpened": self.sessions_opened,
            "functionExecutions": self.events.published,
            "mutationLogEntries": len(self.mutation_log),
        }


STATE_KEY = web.AppKey("opencom_state", ServerState)


def state_of(app: web.Application) -> ServerState:
    """The ``ServerState`` of an application made by ``create_app``."""
    return app[STATE_KEY]
