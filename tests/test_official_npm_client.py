"""The official npm ``convex`` clients (ConvexClient and ConvexHttpClient), unmodified, against the
real server, driven from Node by tests/npm/driver.mjs.

The package is installed by the test (``tests/npm_support``); only a machine without
``node``/``npm`` skips these tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.driver_process import Driver, DriverError
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import RunningServer, compat_server, start_server  # noqa: F401 - a fixture

RECONNECT_TIMEOUT_S = 60.0  # npm backs off ~1 s after a server close, doubling with jitter


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` binary, with the pinned ``convex`` package installed beside the driver."""
    return node_with_convex()


@pytest.fixture
async def driver(node: str, server: RunningServer) -> AsyncIterator[Driver]:
    """One Node process holding any number of npm clients (named by the ``client`` field)."""
    started = await Driver.start([node, "driver.mjs", server.url], cwd=str(NPM_DIR))
    yield started
    await started.close()


async def test_query_and_mutation(driver: Driver) -> None:
    assert await driver.call("query", path="messages:list", args={}) == []
    message_id = await driver.call("mutation", path="messages:send", args={"author": "js", "body": "hello"})
    messages = await driver.call("query", path="messages:list", args={})
    assert [(m["_id"], m["author"], m["body"]) for m in messages] == [(message_id, "js", "hello")]
    assert await driver.call("action", path="compat:echo_action", args={"value": "act"}) == "act"


async def test_two_subscribers_see_another_clients_mutation(driver: Driver) -> None:
    for name in ("first", "second"):
        await driver.call("subscribe", client=name, sub=name, path="messages:list", args={})
        assert await driver.call("next", sub=name) == []
    message_id = await driver.call(
        "mutation", client="writer", path="messages:send", args={"author": "w", "body": "hi"}
    )
    for name in ("first", "second"):
        messages = await driver.next_until(name, lambda value: len(value) == 1)
        assert messages[0]["_id"] == message_id


async def test_http_client_query_and_mutation(driver: Driver) -> None:
    await driver.call("subscribe", sub="list", path="messages:list", args={})
    assert await driver.call("next", sub="list") == []
    message_id = await driver.call("http_mutation", path="messages:send", args={"author": "http", "body": "posted"})
    messages = await driver.call("http_query", path="messages:list", args={})
    assert [m["_id"] for m in messages] == [message_id]
    assert [m["_id"] for m in await driver.next_until("list", lambda value: len(value) == 1)] == [message_id]


@pytest.mark.parametrize("transport", ["ws", "http"])
async def test_convex_error_data_reaches_the_client(driver: Driver, transport: str) -> None:
    op = "mutation" if transport == "ws" else "http_mutation"
    with pytest.raises(DriverError) as raised:
        await driver.call(op, path="compat:fail", args={"code": "NOPE"})
    assert raised.value.name == "ConvexError"
    assert raised.value.data == {"code": "NOPE", "count": 7, "blob": b"\x00\xff"}
    assert type(raised.value.data["count"]) is int
    with pytest.raises(DriverError) as plain:
        await driver.call(op, path="compat:crash", args={})
    assert plain.value.name == "Error" and "kaboom" in plain.value.message


@pytest.mark.parametrize("transport", ["ws", "http"])
async def test_int64_and_bytes_round_trip(driver: Driver, transport: str) -> None:
    prefix = "" if transport == "ws" else "http_"
    value = {"int64": -(2**63), "big": 2**62 + 5, "bytes": b"\x00\x01\xfe", "float": 2.5, "nested": [{"n": 7}]}
    echoed = await driver.call(prefix + "query", path="compat:echo", args={"value": value})
    assert echoed == value and type(echoed["big"]) is int and type(echoed["nested"][0]["n"]) is int
    stored = await driver.call(prefix + "mutation", path="compat:put", args={"name": transport, "value": value})
    assert stored == value
    assert await driver.call(prefix + "action", path="compat:echo_action", args={"value": value}) == value


async def test_client_reconnects_after_a_server_restart(server: RunningServer, driver: Driver) -> None:
    await driver.call("subscribe", sub="list", path="messages:list", args={})
    assert await driver.call("next", sub="list") == []
    await driver.call("mutation", path="messages:send", args={"author": "js", "body": "before"})
    assert len(await driver.next_until("list", lambda value: len(value) == 1)) == 1
    await asyncio.to_thread(server.restart)
    await driver.call(
        "mutation",
        client="other",
        path="messages:send",
        args={"author": "js", "body": "after"},
        timeout=RECONNECT_TIMEOUT_S,
    )
    messages = await driver.next_until("list", lambda value: len(value) == 2, timeout=RECONNECT_TIMEOUT_S)
    assert [m["body"] for m in messages] == ["before", "after"]
    # The reconnected client's own mutations work too.
    await driver.call(
        "mutation", path="messages:send", args={"author": "js", "body": "again"}, timeout=RECONNECT_TIMEOUT_S
    )
    assert len(await driver.next_until("list", lambda value: len(value) == 3)) == 3
