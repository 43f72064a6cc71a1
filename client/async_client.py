"""``AsyncConvexClient``: the Python side of the Convex sync protocol, on one asyncio event loop.

One background task owns the WebSocket. Caller operations only change local state (the query set,
the request tracker, the identity) and then ``_flush`` queues whatever frames the current
connection still owes, so a call made while disconnected simply goes out after the next connect.
Every connection starts from scratch — ``Connect`` with the client's fixed session id, the
identity, the whole query set, then unfinished mutations under their original request ids — and
the server's first Transition on it replaces all results at once.

Incoming Transitions are applied whole: every query's result is updated before any subscription
callback runs or any waiter resumes, so all subscriptions of a client always show the same
timestamp, and a mutation's ``await`` returns only once that timestamp covers its write.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec

from client import protocol
from client.errors import ConvexConnectionError
from client.query_set import QuerySet
from client.requests import RequestKind, RequestTracker
from client.subscription import ErrorCallback, Subscription, UpdateCallback
from runtime import knobs
from runtime.functions.paths import canonical_path
from runtime.server.timestamps import decode_ts, encode_ts
from runtime.values.values import Value

logger = logging.getLogger(__name__)
function_logger = logging.getLogger("client.function_logs")

TokenFetcher = Callable[[bool], Awaitable[str | None]]
"""``await fetch(force_refresh)`` → a token, or ``None`` to go unauthenticated."""


def sync_url(deployment_url: str) -> str:
    """``http(s)://host[/prefix]`` → ``ws(s)://host[/prefix]/api/sync``."""
    parts = urlsplit(deployment_url)
    schemes = {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"Invalid deployment URL {deployment_url!r}: expected http(s)://host[:port]")
    return urlunsplit((schemes[parts.scheme], parts.netloc, parts.path.rstrip("/") + "/api/sync", "", ""))


@dataclass
class _Auth:
    """The identity the caller set: a fixed token or a fetcher, and who to tell about the outcome."""

    token: str | TokenFetcher
    on_change: Callable[[bool], Any] | None
    force_refresh: bool = False  # the server refused the last token: ask the fetcher for a new one


class _Connection:
    """One WebSocket and the protocol versions that live and die with it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.version = protocol.StateVersion(0, 0, encode_ts(0))
        self.identity_sent = 0  # Authenticate frames sent: the identity version the server will reach
        self.awaiting_identity: int | None = None  # identity version whose acceptance ``on_change`` awaits
        self.paused = False  # an auth token is being fetched: nothing may overtake its Authenticate
        self.synced = False  # a Transition arrived, so this connection really works

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(protocol.encode_frame(message))


class AsyncConvexClient:
    """A Convex client for asyncio: queries, mutations, actions and live subscriptions.

    Usable as ``async with AsyncConvexClient(url) as client: ...``; the connection is opened in the
    background on first use and re-established with backoff whenever it drops. All methods must be
    called on the event loop the client was first used on.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._sync_url = sync_url(url)
        self._session_id = str(uuid.uuid4())
        self._queries = QuerySet()
        self._requests = RequestTracker()
        self._auth: _Auth | None = None
        self._auth_generation = 0  # bumped by set_auth/clear_auth so stale token fetches are dropped
        self._connection: _Connection | None = None
        self._state_ts: int | None = None  # timestamp of the results held (of the last Transition)
        self._max_observed_ts: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._fetches: set[asyncio.Task[None]] = set()  # token fetches in flight (referenced until done)
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    # --- public API -------------------------------------------------------------------------

    async def query(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run a query once and return its value (the current result if it is already subscribed)."""
        async with self.subscribe(path, args) as subscription:
            try:
                return await anext(subscription)
            except StopAsyncIteration:
                raise ConvexConnectionError("The client was closed") from None

    async def mutation(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run a mutation; returns once its write is visible to this client's subscriptions."""
        return await self._request("Mutation", path, args)

    async def action(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run an action (never retried after a lost connection: it fails with ``ConvexConnectionError``)."""
        return await self._request("Action", path, args)

    def subscribe(self, path: str, args: dict[str, Value] | None = None) -> Subscription:
        """Watch a query; iterate the returned ``Subscription`` or register ``on_update`` callbacks."""
        self._ensure_open()
        subscription = Subscription(self, canonical_path(path), dict(args or {}))
        subscription._attach(self._queries.attach(subscription.path, subscription.args, subscription))
        self._flush()
        return subscription

    def on_update(
        self,
        path: str,
        args: dict[str, Value] | None,
        callback: UpdateCallback,
        on_error: ErrorCallback | None = None,
    ) -> Callable[[], None]:
        """Call ``callback(value)`` whenever the query's result changes; returns an unsubscribe function."""
        subscription = self.subscribe(path, args)
        subscription.on_update(callback, on_error)
        return subscription.unsubscribe

    def local_query_result(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """The value held for a subscribed query right now (``None`` if it has no result yet)."""
        query = self._queries.lookup(canonical_path(path), dict(args or {}))
        return None if query is None or query.result is None else query.result.unwrap()

    def set_auth(self, token: str | TokenFetcher, on_change: Callable[[bool], Any] | None = None) -> None:
        """Authenticate as the user of ``token`` (or of the tokens ``await token(force_refresh)`` returns).

        ``on_change(True)`` runs when the server accepts the identity, ``on_change(False)`` when it
        refuses it; after a refusal a fetcher is asked once more with ``force_refresh=True``, and if
        that fails too the client carries on unauthenticated.
        """
        self._ensure_open()
        self._auth = _Auth(token, on_change)
        self._auth_generation += 1
        if self._connection is not None:
            self._authenticate(self._connection)

    def clear_auth(self) -> None:
        """Go back to being unauthenticated."""
        self._auth = None
        self._auth_generation += 1
        connection = self._connection
        if connection is not None:
            connection.paused = False
            connection.awaiting_identity = None
            connection.send(protocol.authenticate_message(connection.identity_sent, None))
            connection.identity_sent += 1
            self._flush()

    async def close(self) -> None:
        """Close the connection; unfinished calls fail with ``ConvexConnectionError``, iterators end."""
        if self._closed:
            return
        self._closed = True
        tasks = [*self._fetches, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        self._requests.fail_all(ConvexConnectionError("The client was closed"))
        for subscription in self._queries.all_subscriptions():
            subscription._end()

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- caller-side state changes ---------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise ConvexConnectionError("The client was closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"convex-client {self.url}")

    async def _request(self, kind: RequestKind, path: str, args: dict[str, Value] | None) -> Value:
        self._ensure_open()
        request = self._requests.create(kind, path, dict(args or {}))
        self._flush()
        return await request.future

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription._query is not None:
            self._queries.detach(subscription._query, subscription)
            self._flush()

    def _flush(self) -> None:
        """Queue every frame the current connection is owed, unless an auth fetch holds them back."""
        connection = self._connection
        if connection is None or connection.paused:
            return
        modification = self._queries.take_modification()
        if modification is not None:
            connection.send(modification)
        for request in self._requests.take_outgoing():
            connection.outbox.put_nowait(request.frame)

    def _authenticate(self, connection: _Connection) -> None:
        auth = self._auth
        assert auth is not None
        if isinstance(auth.token, str):
            connection.paused = False  # a fetch of an earlier set_auth may hold frames back
            self._send_token(connection, auth.token)
            self._flush()
            return
        connection.paused = True
        generation = self._auth_generation
        task = asyncio.get_running_loop().create_task(
            self._finish_fetch(connection, generation, auth.token(auth.force_refresh))
        )
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _finish_fetch(self, connection: _Connection, generation: int, fetch: Awaitable[str | None]) -> None:
        try:
            token: str | None = await fetch
        except Exception:
            logger.exception("The auth token fetcher raised; continuing unauthenticated")
            token = None
        if generation != self._auth_generation or connection is not self._connection:
            return  # superseded by a newer set_auth/clear_auth, or the connection is gone
        connection.paused = False
        if token is None:
            self._notify_auth(False)
        else:
            self._send_token(connection, token)
        self._flush()

    def _send_token(self, connection: _Connection, token: str) -> None:
        connection.send(protocol.authenticate_message(connection.identity_sent, token))
        connection.identity_sent += 1
        connection.awaiting_identity = connection.identity_sent

    def _notify_auth(self, accepted: bool) -> None:
        auth = self._auth
        if auth is None:
            return
        if accepted:
            auth.force_refresh = False
        elif isinstance(auth.token, str) or auth.force_refresh:
            self._auth = None  # refused twice (or a fixed token refused): carry on unauthenticated
        else:
            auth.force_refresh = True
        if auth.on_change is not None:
            try:
                auth.on_change(accepted)
            except Exception:
                logger.exception("The auth on_change callback raised")

    # --- the connection ----------------------------------------------------------------------

    async def _run(self) -> None:
        """Connect, serve, and reconnect with exponential backoff until closed."""
        # The session timeout bounds each handshake; an open socket is watched by the inactivity timeout.
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=knobs.CLIENT_CONNECT_TIMEOUT_S))
        failures = 0
        connection_count = 0
        close_reason = "InitialConnect"
        while not self._closed:
            try:
                ws = await self._http.ws_connect(
                    self._sync_url,
                    autoping=True,
                    max_msg_size=0,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=knobs.CLIENT_CONNECT_TIMEOUT_S),
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                close_reason = f"Connection to {self._sync_url} failed: {exc}"
                failures += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            connection = _Connection(ws)
            close_reason = await self._serve(connection, connection_count, close_reason)
            connection_count += 1
            failures = 1 if connection.synced else failures + 1
            logger.info("Connection to %s lost (%s); reconnecting", self._sync_url, close_reason)
            await asyncio.sleep(self._backoff(failures))

    @staticmethod
    def _backoff(failures: int) -> float:
        # The exponent is capped so that a server down for days cannot overflow the float.
        delay = min(knobs.CLIENT_RECONNECT_INITIAL_S * 2.0 ** min(failures - 1, 32), knobs.CLIENT_RECONNECT_MAX_S)
        return delay * random.uniform(0.5, 1.5)

    async def _serve(self, connection: _Connection, connection_count: int, last_close_reason: str) -> str:
        """Run one connection to its end; returns why it ended."""
        self._connection = connection
        self._queries.reset_for_connection()
        self._requests.reset_for_connection()
        writer = asyncio.get_running_loop().create_task(self._write(connection))
        ws = connection.ws
        try:
            connection.send(
                protocol.connect_message(
                    self._session_id,
                    connection_count,
                    last_close_reason,
                    self._max_observed_ts,
                    int(time.time() * 1000),
                )
            )
            if self._auth is not None:
                self._authenticate(connection)
            self._flush()
            while True:
                message = await ws.receive(timeout=knobs.CLIENT_INACTIVITY_TIMEOUT_S)
                if message.type == aiohttp.WSMsgType.TEXT:
                    reason = self._handle(connection, protocol.decode_server_message(message.data))
                    if reason is not None:
                        return reason
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    return f"closed with code {ws.close_code}"
                elif message.type == aiohttp.WSMsgType.ERROR:
                    return f"WebSocket error: {ws.exception()}"
                else:
                    raise protocol.ProtocolError(f"Unexpected {message.type.name} frame")
        except TimeoutError:
            return "InactiveServer"
        except (protocol.ProtocolError, msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            logger.warning("Protocol error from %s: %s", self._sync_url, exc)
            return f"ProtocolError: {exc}"
        except (aiohttp.ClientError, ConnectionError) as exc:
            return f"Connection error: {exc}"
        except Exception as exc:
            # A bug of ours: a fresh connection rebuilds all state, so recovering beats hanging.
            logger.exception("Unexpected error handling %s", self._sync_url)
            return f"InternalClientError: {exc}"
        finally:
            self._connection = None
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await ws.close()

    async def _write(self, connection: _Connection) -> None:
        while True:
            frame = await connection.outbox.get()
            await connection.ws.send_str(frame)

    def _handle(self, connection: _Connection, message: protocol.ServerMessage) -> str | None:
        """Act on one server frame; returns a reason when the connection must end."""
        if isinstance(message, protocol.Transition):
            self._apply_transition(connection, message)
        elif isinstance(message, (protocol.MutationResponse, protocol.ActionResponse)):
            self._log_lines(message.log_lines)
            ts = self._requests.on_response(message, self._state_ts if connection.synced else None)
            if ts is not None:
                self._observe(ts)
        elif isinstance(message, protocol.AuthError):
            logger.warning("Authentication failed: %s", message.error)
            self._notify_auth(False)
            return f"AuthError: {message.error}"
        elif isinstance(message, protocol.FatalError):
            logger.error("Fatal error from %s: %s", self._sync_url, message.error)
            return f"FatalError: {message.error}"
        return None

    def _apply_transition(self, connection: _Connection, transition: protocol.Transition) -> None:
        if transition.start_version != connection.version:
            raise protocol.ProtocolError(
                f"Transition starts at {transition.start_version}, expected {connection.version}"
            )
        ts = decode_ts(transition.end_version.ts)
        changed = self._queries.apply(transition.modifications)
        connection.version = transition.end_version
        connection.synced = True
        self._state_ts = ts
        self._observe(ts)
        for query in changed:
            self._log_lines(query.result.log_lines if query.result else [])
            for subscription in list(query.subscriptions):
                assert query.result is not None
                subscription._deliver(query.result)
        self._requests.on_transition(ts)
        awaiting = connection.awaiting_identity
        if awaiting is not None and transition.end_version.identity >= awaiting:
            connection.awaiting_identity = None
            self._notify_auth(True)

    def _observe(self, ts: int) -> None:
        if self._max_observed_ts is None or ts > self._max_observed_ts:
            self._max_observed_ts = ts

    @staticmethod
    def _log_lines(lines: list[str]) -> None:
        for line in lines:
            function_logger.info("%s", line)
