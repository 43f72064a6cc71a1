"""One connection's queue of frames to send: bounded, order-keeping, merging Transitions.

A writer task drains the queue onto the socket; a client that reads slowly only ever blocks its
own writer. While it is blocked, a new Transition is folded into a Transition still waiting at
the tail of the queue (the later end version, the later result per query), so waiting Transitions
never pile up. Frames are never reordered: a Transition queued after a ``MutationResponse`` stays
after it, which is what read-your-writes relies on. A queue that still grows past
``knobs.SYNC_MAX_PENDING_MESSAGES`` (responses the client never reads) ends the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from aiohttp import WSCloseCode, WSMsgType, web

from runtime import knobs
from runtime.server.protocol import Ping, ServerMessage, Transition, encode

logger = logging.getLogger("opencom.server")


def merge_transitions(first: Transition, second: Transition) -> Transition:
    """One Transition equivalent to sending ``first`` then ``second`` (``second`` starts where ``first`` ends)."""
    by_query = {modification.queryId: modification for modification in first.modifications}
    for modification in second.modifications:
        by_query.pop(modification.queryId, None)
        by_query[modification.queryId] = modification
    return Transition(
        startVersion=first.startVersion,
        endVersion=second.endVersion,
        modifications=list(by_query.values()),
        serverTs=second.serverTs,
        clientClockSkew=second.clientClockSkew,
    )


class Outbox:
    """The send side of one WebSocket (see the module docstring)."""

    def __init__(self, socket: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self._socket = socket
        self._transport = transport
        self._aborted = False
        self._task: asyncio.Task[None] | None = None
        self._queue: deque[ServerMessage] = deque()
        self._ready = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._last_sent = time.monotonic()
        self.merged = 0  # Transitions folded into one still waiting (a sign of a slow reader)

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, message: ServerMessage) -> None:
        """Queue a frame; a Transition joins a Transition waiting at the tail."""
        if self._closing is not None:
            return
        if isinstance(message, Transition) and self._queue and isinstance(self._queue[-1], Transition):
            self._queue[-1] = merge_transitions(self._queue[-1], message)
            self.merged += 1
            return
        self._queue.append(message)
        if len(self._queue) > knobs.SYNC_MAX_PENDING_MESSAGES:
            self.abort("the client is not reading what it is sent")
            return
        self._ready.set()

    def ping_if_idle(self, now: float) -> None:
        """Queue a JSON ``Ping`` if nothing went out for a ping interval: clients drop silent servers."""
        if not self._queue and now - self._last_sent >= knobs.SYNC_PING_INTERVAL_S:
            self.push(Ping())

    def close(self, code: int, reason: str) -> None:
        """Send what is queued (nothing more), then close the socket with ``code``."""
        if self._closing is None:
            self._closing = (code, reason)
        self._ready.set()

    def abort(self, why: str) -> None:
        """Drop the connection now, without a close handshake the client would never read."""
        logger.warning("dropping a sync connection: %s", why)
        self._queue.clear()
        self._aborted = True
        self._closing = (WSCloseCode.POLICY_VIOLATION, why)
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    def start(self) -> asyncio.Task[None]:
        """Start the writer task (once)."""
        self._task = asyncio.create_task(self._run(), name="opencom-sync-writer")
        return self._task

    async def _run(self) -> None:
        """Send frames until closed."""
        socket = self._socket
        try:
            while True:
                if not self._queue:
                    if self._closing is not None:
                        break
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                message = self._queue.popleft()
                await socket.send_frame(encode(message), WSMsgType.TEXT)
                self._last_sent = time.monotonic()
        except (ConnectionError, RuntimeError) as error:
            logger.debug("sending to a client failed: %s", error)
        finally:
            if not self._aborted and not socket.closed:
                code, reason = self._closing or (WSCloseCode.GOING_AWAY, "")
                await socket.close(code=code, message=reason.encode())
