"""The official PyPI ``convex`` client (0.8.1), unmodified, against the real server.

The client runs in a driver subprocess (tests/official_python_driver.py): it holds the GIL while
it blocks, so it cannot share a process with an asyncio test.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.driver_process import Driver, DriverError
from tests.server_fixtures import RunningServer, compat_server, start_server  # noqa: F401 - a fixture
from tests.store_fixtures import BOTH_STORES

pytestmark = BOTH_STORES

pytest.importorskip("convex", reason="the official PyPI client is not installed")

DRIVER = Path(__file__).parent / "official_python_driver.py"
RECONNECT_TIMEOUT_S = 60.0  # the Rust core backs off up to 15 s between attempts


@pytest.fixture
async def official(server: RunningServer) -> AsyncIterator[Any]:
    """A factory of official clients, each in its own driver process; all closed at the end."""
    drivers: list[Driver] = []

    async def start() -> Driver:
        driver = await Driver.start([sys.executable, str(DRIVER), server.url])
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        await driver.close()


async def test_query_and_mutation(official: Any) -> None:
    client = await official()
    assert await client.call("query", path="messages:list", args={}) == []
    message_id = await client.call("mutation", path="messages:send", args={"author": "py", "body": "hello"})
    messages = await client.call("query", path="messages:list", args={})
    assert [(m["_id"], m["author"], m["body"]) for m in messages] == [(message_id, "py", "hello")]
    assert isinstance(messages[0]["_creationTime"], float)


async def test_subscription_sees_another_clients_mutation(official: Any) -> None:
    watcher, writer = await official(), await official()
    await watcher.call("subscribe", sub="list", path="messages:list", args={})
    assert await watcher.call("next", sub="list") == []
    message_id = await writer.call("mutation", path="messages:send", args={"author": "w", "body": "hi"})
    messages = await watcher.next_until("list", lambda value: len(value) == 1)
    assert messages[0]["_id"] == message_id


async def test_convex_error_data_reaches_the_client(official: Any) -> None:
    client = await official()
    with pytest.raises(DriverError) as raised:
        await client.call("mutation", path="compat:fail", args={"code": "NOPE"})
    assert raised.value.name == "ConvexError"
    assert raised.value.data == {"code": "NOPE", "count": 7, "blob": b"\x00\xff"}
    assert type(raised.value.data["count"]) is int
    with pytest.raises(DriverError) as plain:
        await client.call("mutation", path="compat:crash", args={})
    assert plain.value.name == "Exception" and "kaboom" in plain.value.message


async def test_int64_and_bytes_round_trip(official: Any) -> None:
    client = await official()
    value = {"int64": 2**62 + 5, "negative": -3, "bytes": b"\x00\x01\xfe", "float": 2.5, "list": [1, b"z"]}
    echoed = await client.call("query", path="compat:echo", args={"value": value})
    assert echoed == value and type(echoed["int64"]) is int and type(echoed["list"][0]) is int
    await client.call("subscribe", sub="stored", path="compat:get", args={"name": "k"})
    assert await client.call("next", sub="stored") is None
    assert await client.call("mutation", path="compat:put", args={"name": "k", "value": value}) == value
    assert await client.next_until("stored", lambda stored: stored is not None) == value


async def test_client_reconnects_after_a_server_restart(server: RunningServer, official: Any) -> None:
    client = await official()
    await client.call("subscribe", sub="list", path="messages:list", args={})
    assert await client.call("next", sub="list") == []
    await client.call("mutation", path="messages:send", args={"author": "py", "body": "before"})
    await asyncio.to_thread(server.restart)
    # The driver blocks in the client until it has reconnected and the mutation went through.
    await client.call(
        "mutation", path="messages:send", args={"author": "py", "body": "after"}, timeout=RECONNECT_TIMEOUT_S
    )
    messages = await client.next_until("list", lambda value: len(value) == 2, timeout=RECONNECT_TIMEOUT_S)
    assert [m["body"] for m in messages] == ["before", "after"]
