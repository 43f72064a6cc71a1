"""opencom's own Python client (``client/``) against the real server running tests/apps/compat."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from client import (
    AsyncConvexClient,
    AsyncConvexHttpClient,
    ConvexClient,
    ConvexConnectionError,
    ConvexError,
    ConvexFunctionError,
)
from client.async_client import sync_url
from runtime.server.timestamps import decode_ts, encode_ts
from tests.server_fixtures import RunningServer, compat_server, start_server  # noqa: F401 - a fixture

AUTH_APP = Path(__file__).parent / "apps" / "auth"
WAIT_S = 20.0  # bound of every wait for the server


@pytest.fixture
async def connect(server: RunningServer) -> AsyncIterator[Any]:
    """A factory of clients connected to ``server`` (or another URL); all closed at the end."""
    clients: list[AsyncConvexClient] = []

    def make(url: str | None = None) -> AsyncConvexClient:
        client = AsyncConvexClient(url or server.url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def bounded(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, WAIT_S)


async def next_matching(subscription: Any, accept: Any) -> Any:
    """The first result of ``subscription`` (current one included) that satisfies ``accept``."""
    while True:
        value = await bounded(anext(subscription))
        if accept(value):
            return value


# --- wire helpers ------------------------------------------------------------------------------


def test_timestamps_travel_as_little_endian_base64() -> None:
    assert encode_ts(0) == "AAAAAAAAAAA="
    assert encode_ts(1) == "AQAAAAAAAAA="
    assert decode_ts(encode_ts(1795864009950561597)) == 1795864009950561597


def test_sync_url_is_derived_from_the_deployment_url() -> None:
    assert sync_url("http://127.0.0.1:3210") == "ws://127.0.0.1:3210/api/sync"
    assert sync_url("https://example.test/prefix/") == "wss://example.test/prefix/api/sync"
    with pytest.raises(ValueError):
        sync_url("ftp://example.test")


# --- queries, mutations, actions ---------------------------------------------------------------


async def test_query_and_mutation_round_trip(connect: Any) -> None:
    client = connect()
    assert await bounded(client.query("messages:list")) == []
    message_id = await bounded(client.mutation("messages:send", {"author": "ada", "body": "hello"}))
    messages = await bounded(client.query("messages:list"))
    assert [(m["_id"], m["author"], m["body"]) for m in messages] == [(message_id, "ada", "hello")]


async def test_values_keep_their_convex_types(connect: Any) -> None:
    client = connect()
    value = {
        "int64": 2**62 + 1,
        "negative": -3,
        "float": 1.0,
        "inf": math.inf,
        "negative_zero": -0.0,
        "bytes": b"\x00\xff\x10",
        "text": "astral \U0001f600",
        "nested": [None, True, {"deep": [1.5]}],
    }
    for result in (
        await bounded(client.query("compat:echo", {"value": value})),
        await bounded(client.action("compat:echo_action", {"value": value})),
        await bounded(client.mutation("compat:put", {"name": "v", "value": value})),
        await bounded(client.query("compat:get", {"name": "v"})),
    ):
        assert result == value
        assert type(result["int64"]) is int and type(result["float"]) is float
        assert math.copysign(1.0, result["negative_zero"]) == -1.0
    nan = await bounded(client.query("compat:echo", {"value": math.nan}))
    assert math.isnan(nan)


async def test_convex_error_data_is_decoded(connect: Any) -> None:
    client = connect()
    with pytest.raises(ConvexError) as raised:
        await bounded(client.mutation("compat:fail", {"code": "NOPE"}))
    assert raised.value.data == {"code": "NOPE", "count": 7, "blob": b"\x00\xff"}
    assert type(raised.value.data["count"]) is int


async def test_other_errors_carry_the_server_message(connect: Any) -> None:
    client = connect()
    with pytest.raises(ConvexFunctionError, match="kaboom"):
        await bounded(client.mutation("compat:crash"))
    with pytest.raises(ConvexFunctionError, match="messages:nope"):
        await bounded(client.query("messages:nope"))
    # The connection survives failures.
    assert await bounded(client.query("compat:echo", {"value": "still here"})) == "still here"


async def test_failing_query_raises_from_its_subscription(connect: Any) -> None:
    client = connect()
    subscription = client.subscribe("compat:fail_query", {"code": "Q"})
    with pytest.raises(ConvexError) as raised:
        await bounded(anext(subscription))
    assert raised.value.data == {"code": "Q"}
    assert subscription.result is not None and isinstance(subscription.result.error, ConvexError)


# --- subscriptions -----------------------------------------------------------------------------


async def test_subscription_sees_another_clients_mutation(connect: Any) -> None:
    watcher, writer = connect(), connect()
    subscription = watcher.subscribe("messages:list")
    assert await bounded(anext(subscription)) == []
    await bounded(writer.mutation("messages:send", {"author": "bob", "body": "hi"}))
    assert [m["body"] for m in await bounded(anext(subscription))] == ["hi"]


async def test_mutation_returns_only_once_subscriptions_show_it(connect: Any) -> None:
    client = connect()
    subscription = client.subscribe("messages:list")
    await bounded(anext(subscription))
    for index in range(5):
        await bounded(client.mutation("messages:send", {"author": "ada", "body": str(index)}))
        assert subscription.result is not None
        assert [m["body"] for m in subscription.result.value] == [str(i) for i in range(index + 1)]
        assert client.local_query_result("compat:count_messages") is None  # never subscribed


async def test_subscriptions_change_together(connect: Any) -> None:
    client, writer = connect(), connect()
    listing = client.subscribe("messages:list")
    counting = client.subscribe("compat:count_messages")
    await bounded(anext(listing))
    await bounded(anext(counting))
    seen: list[tuple[int, Any]] = []
    listing.on_update(lambda messages: seen.append((len(messages), counting.result and counting.result.value)))
    for index in range(5):
        await bounded(writer.mutation("messages:send", {"author": "w", "body": str(index)}))
    await next_matching(listing, lambda messages: len(messages) == 5)
    assert seen and all(float(length) == count for length, count in seen)


async def test_on_update_calls_back_until_unsubscribed(connect: Any) -> None:
    client = connect()
    values: list[int] = []
    changed = asyncio.Event()

    def record(messages: list[Any]) -> None:
        values.append(len(messages))
        changed.set()

    unsubscribe = client.on_update("messages:list", {}, record)
    await bounded(changed.wait())
    changed.clear()
    await bounded(client.mutation("messages:send", {"author": "a", "body": "1"}))
    await bounded(changed.wait())
    unsubscribe()
    await bounded(client.mutation("messages:send", {"author": "a", "body": "2"}))
    assert values == [0, 1]


async def test_unsubscribe_ends_the_iterator(connect: Any) -> None:
    client = connect()
    subscription = client.subscribe("messages:list")
    await bounded(anext(subscription))
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    subscription.unsubscribe()
    with pytest.raises(StopAsyncIteration):
        await bounded(waiting)


async def test_close_ends_subscriptions_and_refuses_calls(server: RunningServer) -> None:
    client = AsyncConvexClient(server.url)
    subscription = client.subscribe("messages:list")
    await bounded(anext(subscription))
    await client.close()
    with pytest.raises(StopAsyncIteration):
        await bounded(anext(subscription))
    with pytest.raises(ConvexConnectionError):
        await client.query("messages:list")


# --- reconnects --------------------------------------------------------------------------------


async def test_server_restart_resubscribes_and_replays(server: RunningServer, connect: Any) -> None:
    client = connect()
    subscription = client.subscribe("messages:list")
    await bounded(anext(subscription))
    await bounded(client.mutation("messages:send", {"author": "a", "body": "before"}))
    await asyncio.to_thread(server.stop)
    pending = asyncio.ensure_future(client.mutation("messages:send", {"author": "a", "body": "during"}))
    await asyncio.sleep(0.3)
    assert not pending.done()
    await asyncio.to_thread(server.restart)
    await bounded(pending)
    bodies = [m["body"] for m in await next_matching(subscription, lambda messages: len(messages) == 2)]
    assert bodies == ["before", "during"]


class TamperingProxy:
    """Relays sync sockets to the server, the way a flaky network or a buggy server would: it can
    spoil the first frame of one kind, drop every connection, and refuse new ones for a while."""

    def __init__(
        self, server: RunningServer, frame_type: str = "", spoil: Callable[[str], str | None] | None = None
    ) -> None:
        self.server = server
        self.marker = f'"type":"{frame_type}"'
        self.spoil = spoil  # frame → replacement, or None to cut the connection; used once
        self.connections = 0
        self.refuse = False  # answer upgrade requests with 503, as a server being restarted would
        self._open: set[web.WebSocketResponse] = set()

    async def drop_connections(self) -> None:
        """Close every relayed socket, as a network failure would."""
        for socket in list(self._open):
            await socket.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.Response(status=503)
        self.connections += 1
        downstream = web.WebSocketResponse()
        await downstream.prepare(request)
        self._open.add(downstream)
        async with aiohttp.ClientSession() as session, session.ws_connect(self.server.ws_url) as upstream:

            async def relay_up() -> None:
                async for message in downstream:
                    await upstream.send_str(message.data)

            async def relay_down() -> None:
                async for message in upstream:
                    frame: str | None = message.data
                    if self.spoil is not None and self.marker in message.data:
                        frame, self.spoil = self.spoil(message.data), None
                    if frame is None:
                        await downstream.close()
                        return
                    await downstream.send_str(frame)

            tasks = [asyncio.create_task(relay_up()), asyncio.create_task(relay_down())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._open.discard(downstream)
        return downstream

    @asynccontextmanager
    async def client(self) -> AsyncIterator[AsyncConvexClient]:
        """A client connected through the proxy (closed before the proxy stops: it waits for sockets)."""
        app = web.Application()
        app.router.add_get("/api/sync", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        client = AsyncConvexClient(f"http://127.0.0.1:{runner.addresses[0][1]}")
        try:
            yield client
        finally:
            await client.close()
            await runner.cleanup()


async def test_mutation_replayed_after_a_lost_response_runs_once(server: RunningServer, connect: Any) -> None:
    proxy = TamperingProxy(server, "MutationResponse", lambda frame: None)
    async with proxy.client() as client:
        message_id = await bounded(client.mutation("messages:send", {"author": "a", "body": "once"}))
        assert proxy.connections == 2 and proxy.spoil is None
    messages = await bounded(connect().query("messages:list"))
    assert [(m["_id"], m["body"]) for m in messages] == [(message_id, "once")]


async def test_transition_with_a_version_gap_makes_the_client_resync(server: RunningServer, connect: Any) -> None:
    await bounded(connect().mutation("messages:send", {"author": "a", "body": "there"}))
    gap = TamperingProxy(server, "Transition", lambda frame: frame.replace('"querySet":0', '"querySet":7', 1))
    async with gap.client() as client:
        messages = await bounded(client.query("messages:list"))
        assert [m["body"] for m in messages] == ["there"]
        assert gap.connections == 2 and gap.spoil is None


async def test_malformed_frame_makes_the_client_resync(server: RunningServer) -> None:
    garbled = TamperingProxy(server, "Transition", lambda frame: frame.replace('"logLines"', '"lines"'))
    async with garbled.client() as client:
        assert await bounded(client.query("compat:echo", {"value": 5})) == 5
        assert garbled.connections == 2


async def test_resubscribed_paginated_query_keeps_its_page_end(server: RunningServer, connect: Any) -> None:
    writer = connect()
    for index in range(3):
        await bounded(writer.mutation("messages:send", {"author": "a", "body": f"m{index}"}))
    proxy = TamperingProxy(server)
    async with proxy.client() as client:
        page = client.subscribe("compat:newest_page", {"numItems": 2.0})
        assert await bounded(anext(page)) == ["m2", "m1"]
        proxy.refuse = True
        await proxy.drop_connections()
        await bounded(writer.mutation("messages:send", {"author": "a", "body": "m3"}))
        proxy.refuse = False
        # Re-added with its journal, the page still ends at m1 (a fresh page would be [m3, m2]).
        assert await bounded(anext(page)) == ["m3", "m2", "m1"]
        assert proxy.connections == 2


# --- auth --------------------------------------------------------------------------------------


async def test_refused_token_is_reported_and_the_client_carries_on(connect: Any) -> None:
    client = connect()
    outcomes: list[bool] = []
    fetches: list[bool] = []
    refused = asyncio.Event()

    async def fetch(force_refresh: bool) -> str:
        fetches.append(force_refresh)
        return "not-a-valid-token"

    def on_change(accepted: bool) -> None:
        outcomes.append(accepted)
        if len(outcomes) == 2:
            refused.set()

    client.set_auth(fetch, on_change)
    await bounded(refused.wait())
    assert outcomes == [False, False]
    assert fetches == [False, True]  # asked once more for a fresh token, then gave up
    assert await bounded(client.query("compat:whoami")) is None
    assert await bounded(client.mutation("messages:send", {"author": "a", "body": "b"}))


async def test_accepted_token_changes_what_queries_see(tmp_path: Path) -> None:
    auth_server = start_server(AUTH_APP, tmp_path / "auth-data", env={"OPENCOM_AUTH_SCRYPT_N": "1024"})
    try:
        async with AsyncConvexClient(auth_server.url) as client:
            sign_up = {"flow": "signUp", "email": "ada@example.com", "password": "correct horse battery"}
            tokens = (await bounded(client.action("auth:signIn", {"provider": "password", "params": sign_up})))[
                "tokens"
            ]
            me = client.subscribe("me:whoami")
            assert await bounded(anext(me)) is None
            changes: list[bool] = []
            client.set_auth(tokens["token"], changes.append)
            identity = await bounded(anext(me))
            assert identity["subject"] and identity["tokenIdentifier"].startswith(identity["issuer"])
            assert changes == [True]
            client.clear_auth()
            assert await bounded(anext(me)) is None
    finally:
        auth_server.stop()


async def test_clear_auth_keeps_the_connection_usable(connect: Any) -> None:
    client = connect()
    assert await bounded(client.query("compat:whoami")) is None
    client.clear_auth()
    assert await bounded(client.query("compat:echo", {"value": 1})) == 1


# --- the blocking client and the HTTP client ---------------------------------------------------


def test_blocking_client_lets_other_threads_run(server: RunningServer) -> None:
    with ConvexClient(server.url) as watcher, ConvexClient(server.url) as writer:
        subscription = watcher.subscribe("messages:list")
        assert subscription.next(timeout=WAIT_S) == []
        sent: list[str] = []
        thread = threading.Thread(
            target=lambda: sent.append(writer.mutation("messages:send", {"author": "t", "body": "x"}, timeout=WAIT_S))
        )
        thread.start()
        messages = subscription.next(timeout=WAIT_S)  # blocks this thread while the other one runs
        thread.join(WAIT_S)
        assert [m["_id"] for m in messages] == sent
        assert watcher.query("compat:echo", {"value": 2**40}, timeout=WAIT_S) == 2**40
        with pytest.raises(ConvexError):
            watcher.mutation("compat:fail", {"code": "X"}, timeout=WAIT_S)
        subscription.unsubscribe()
        with pytest.raises(StopIteration):
            subscription.next(timeout=WAIT_S)


async def test_http_client_calls_functions(server: RunningServer) -> None:
    async with AsyncConvexHttpClient(server.url) as http:
        message_id = await bounded(http.mutation("messages:send", {"author": "h", "body": "over http"}))
        assert [m["_id"] for m in await bounded(http.query("messages:list"))] == [message_id]
        assert await bounded(http.action("compat:echo_action", {"value": b"\x01"})) == b"\x01"
        with pytest.raises(ConvexError) as raised:
            await bounded(http.mutation("compat:fail", {"code": "H"}))
        assert raised.value.data["count"] == 7
        with pytest.raises(ConvexFunctionError, match="kaboom"):
            await bounded(http.mutation("compat:crash"))
