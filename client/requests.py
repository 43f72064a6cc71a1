"""Mutations and actions in flight: ids, replay after reconnects, and read-your-writes completion.

Request ids count up from 0 for the life of the client and, with the client's fixed session id,
name a request uniquely to the server. That is what makes a replay safe: a mutation whose response
was lost is sent again under the same (session id, request id), and the server answers with the
recorded outcome instead of running it twice.

A successful mutation completes only once a Transition at or after its commit timestamp has been
applied, so when the caller's ``await`` returns, every subscription already shows the write.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal

from client import protocol
from client.errors import ConvexConnectionError, function_error
from runtime.server.timestamps import decode_ts
from runtime.values.values import Value, from_json, to_json

RequestKind = Literal["Mutation", "Action"]


@dataclass
class Request:
    """One call awaiting its outcome."""

    request_id: int
    kind: RequestKind
    path: str
    frame: str
    future: asyncio.Future[Value]
    sent: bool = False  # sent on the current connection
    commit_ts: int | None = None  # a successful mutation waiting for a Transition to reach this ts
    result: Value = None  # the value of a successful mutation, handed over on completion


class RequestTracker:
    """Every unfinished request, and the queue of frames the current connection still owes."""

    def __init__(self) -> None:
        self._next_id = 0
        self._pending: dict[int, Request] = {}
        # The subset of ``_pending`` that succeeded and only waits for a Transition to reach it.
        self._committed: dict[int, Request] = {}
        self._outgoing: deque[Request] = deque()

    def create(self, kind: RequestKind, path: str, args: dict[str, Value]) -> Request:
        """Register a call and queue it for sending; its future completes with the outcome."""
        request_id = self._next_id
        self._next_id += 1
        frame = protocol.encode_frame(protocol.request_message(kind, request_id, path, to_json(args)))
        request = Request(request_id, kind, path, frame, asyncio.get_running_loop().create_future())
        self._pending[request_id] = request
        self._outgoing.append(request)
        return request

    def take_outgoing(self) -> list[Request]:
        """Requests to send now, in request id order; they count as sent from here on."""
        requests = []
        for request in self._outgoing:
            if request.future.done():  # the caller gave up before it was sent: never send it
                self._pending.pop(request.request_id, None)
                continue
            request.sent = True
            requests.append(request)
        self._outgoing.clear()
        return requests

    def on_response(
        self, message: protocol.MutationResponse | protocol.ActionResponse, state_ts: int | None
    ) -> int | None:
        """Record a response; returns the commit ts of a successful mutation (to track observed ts).

        ``state_ts`` is the timestamp of the results the client holds: a mutation already covered
        by them completes at once, otherwise it waits for ``on_transition``.
        """
        request = self._pending.get(message.request_id)
        if request is None or request.commit_ts is not None:
            return None  # not ours (a replayed duplicate answer): the first answer stands
        if not message.success:
            del self._pending[request.request_id]
            if not request.future.done():
                request.future.set_exception(function_error(str(message.result), message.error_data, message.log_lines))
            return None
        value = from_json(message.result)
        if isinstance(message, protocol.ActionResponse):
            del self._pending[request.request_id]
            if not request.future.done():
                request.future.set_result(value)
            return None
        if message.ts is None:
            raise protocol.ProtocolError(f"MutationResponse {message.request_id} succeeded without a ts")
        request.commit_ts = decode_ts(message.ts)
        request.result = value
        self._committed[request.request_id] = request
        if state_ts is not None and request.commit_ts <= state_ts:
            self._complete(request)
        return request.commit_ts

    def on_transition(self, ts: int) -> None:
        """Complete every successful mutation whose write the client's results now include."""
        for request in [r for r in self._committed.values() if r.commit_ts is not None and r.commit_ts <= ts]:
            self._complete(request)

    def reset_for_connection(self) -> None:
        """Before a new connection: fail actions the old one lost, queue everything else again.

        Mutations that already succeeded are not resent: they only wait for the new connection's
        first Transition, whose timestamp covers them.
        """
        for request in list(self._pending.values()):
            if request.future.done() and request.commit_ts is None:
                del self._pending[request.request_id]  # cancelled by the caller: not worth a replay
            elif request.kind == "Action" and request.sent:
                del self._pending[request.request_id]
                request.future.set_exception(ConvexConnectionError("Connection lost while action was in flight"))
        replay = sorted((r for r in self._pending.values() if r.commit_ts is None), key=lambda r: r.request_id)
        for request in replay:
            request.sent = False
        self._outgoing = deque(replay)

    def fail_all(self, error: Exception) -> None:
        """End every unfinished call with ``error`` (the client is closing)."""
        for request in self._pending.values():
            if not request.future.done():
                request.future.set_exception(error)
        self._pending.clear()
        self._committed.clear()
        self._outgoing.clear()

    def _complete(self, request: Request) -> None:
        del self._pending[request.request_id]
        self._committed.pop(request.request_id, None)
        if not request.future.done():
            request.future.set_result(request.result)
