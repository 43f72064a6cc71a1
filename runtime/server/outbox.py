"""One connection's queue of frames to send: bounded, order-keeping, merging Transitions, task-free.

Frames are written straight to the socket's transport, with no task woken per frame: ``push``
queues a frame and asks the event loop for one ``flush`` at the end of the current step, and
``flush`` writes every frame queued since as one write (a ``MutationResponse`` and the Transition
after it leave in one packet). The server never negotiates permessage-deflate (Convex's does not
either), so a frame is its header and the JSON, built here without aiohttp's writer.

A client that reads slowly only ever blocks its own frames: once its transport holds more than
its high-water mark, frames stay queued and one task sends them through aiohttp, which waits for
the transport to drain, until the queue is empty again. While they wait, a new Transition is
folded into a Transition still waiting at the tail of the queue (the later end version, the later
result per query), so waiting Transitions never pile up. Frames are never reordered: a Transition
queued after a ``MutationResponse`` stays after it, which is what read-your-writes relies on. A
queue that still grows past ``knobs.SYNC_MAX_PENDING_MESSAGES`` (responses the client never
reads) ends the connection.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import deque

from aiohttp import WSCloseCode, WSMsgType, web

from runtime import knobs
from runtime.server.protocol import Ping, ServerMessage, Transition, encode

logger = logging.getLogger("opencom.server")

_FIN_TEXT = 0x81  # the last (only) fragment of a text message; no extension bits
_SHORT, _MEDIUM, _LONG = struct.Struct(">BB"), struct.Struct(">BBH"), struct.Struct(">BBQ")


def text_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed WebSocket text frame carrying ``payload`` (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        return _SHORT.pack(_FIN_TEXT, length) + payload
    if length < 1 << 16:
        return _MEDIUM.pack(_FIN_TEXT, 126, length) + payload
    return _LONG.pack(_FIN_TEXT, 127, length) + payload


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
    """The send side of one WebSocket (see the module docstring).

    ``_queue`` holds the frames not written yet, in order; it is only ever non-empty until the next
    ``flush``, or while ``_drainer`` (the slow-reader task) exists. ``_finisher`` is the task that
    sends what is queued at ``close`` and then the close frame.
    """

    def __init__(self, socket: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self._socket = socket
        self._transport = transport
        self._aborted = False
        self._queue: deque[ServerMessage] = deque()
        self._flush_due: asyncio.Handle | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._finisher: asyncio.Task[None] | None = None
        self._closing: tuple[int, str] | None = None
        self._last_sent = time.monotonic()
        self.merged = 0  # Transitions folded into one still waiting (a sign of a slow reader)

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, message: ServerMessage) -> None:
        """Queue a frame, written at the end of this step of the loop."""
        if self._enqueue(message) and self._flush_due is None and self._drainer is None:
            self._flush_due = asyncio.get_running_loop().call_soon(self.flush)

    def send(self, message: ServerMessage) -> None:
        """Queue a frame that ends what this step has to say, and write the queue now."""
        if self._enqueue(message):
            self.flush()

    def _enqueue(self, message: ServerMessage) -> bool:
        """Queue ``message``, a Transition joining one waiting at the tail; whether a write is due."""
        if self._closing is not None:
            return False
        queue = self._queue
        if isinstance(message, Transition) and queue and isinstance(queue[-1], Transition):
            queue[-1] = merge_transitions(queue[-1], message)
            self.merged += 1
            return True
        queue.append(message)
        if len(queue) > knobs.SYNC_MAX_PENDING_MESSAGES:
            self.abort("the client is not reading what it is sent")
            return False
        return True

    def flush(self) -> None:
        """Write every queued frame now, in one write, unless the client is behind on reading."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        queue, transport = self._queue, self._transport
        if not queue or self._drainer is not None or self._aborted:
            return
        if transport is None or transport.is_closing() or self._socket.closed:
            queue.clear()  # the connection is going: its reader ends the session
            return
        buffered = transport.get_write_buffer_size()
        if buffered and buffered > transport.get_write_buffer_limits()[1]:
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), name="opencom-sync-drain")
            return
        if len(queue) == 1:
            transport.write(text_frame(encode(queue.popleft())))
        else:
            transport.write(b"".join([text_frame(encode(message)) for message in queue]))
            queue.clear()
        self._last_sent = time.monotonic()

    async def _drain(self) -> None:
        """Send the queue through aiohttp, which waits whenever the transport is full, until it is empty."""
        try:
            while self._queue:
                await self._socket.send_frame(encode(self._queue.popleft()), WSMsgType.TEXT)
                self._last_sent = time.monotonic()
        except (ConnectionError, RuntimeError) as error:
            logger.debug("sending to a client failed: %s", error)
            self._queue.clear()
        finally:
            self._drainer = None

    def ping_if_idle(self, now: float) -> None:
        """Queue a JSON ``Ping`` if nothing went out for a ping interval: clients drop silent servers."""
        if not self._queue and now - self._last_sent >= knobs.SYNC_PING_INTERVAL_S:
            self.push(Ping())

    def close(self, code: int, reason: str) -> None:
        """Send what is queued (nothing more), then close the socket with ``code``."""
        if self._closing is None and not self._aborted:
            self._closing = (code, reason)
            self.flush()
            self._finisher = asyncio.get_running_loop().create_task(self._finish(), name="opencom-sync-close")

    async def closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``close`` to be done; whether it is."""
        if self._finisher is None:
            return True
        _, pending = await asyncio.wait([self._finisher], timeout=timeout)
        return not pending

    def abort(self, why: str) -> None:
        """Drop the connection now, without a close handshake the client would never read."""
        logger.warning("dropping a sync connection: %s", why)
        self._queue.clear()
        self._aborted = True
        self._closing = (WSCloseCode.POLICY_VIOLATION, why)
        for task in (self._drainer, self._finisher):
            if task is not None:
                task.cancel()
        if self._transport is not None:
            self._transport.abort()

    async def _finish(self) -> None:
        socket = self._socket
        if self._drainer is not None:
            await asyncio.wait([self._drainer])
        if not self._aborted and not socket.closed:
            code, reason = self._closing or (WSCloseCode.GOING_AWAY, "")
            try:
                await socket.close(code=code, message=reason.encode())
            except (ConnectionError, RuntimeError) as error:
                logger.debug("closing a client's socket failed: %s", error)
