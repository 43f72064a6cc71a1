"""Live queries across connections: precision, sharing, consistency, slow readers, journals.

Re-runs are observed through the server's ``/api/_opencom/stats`` counters (query executions per
function), so "re-ran nothing" and "re-ran exactly once" are facts a caller can check.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.store import DATABASE_URL_VARIABLE
from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server, ts_value
from tests.store_fixtures import Stores

APP = Path(__file__).parent / "apps" / "sync"
SCHEMALESS_APP = Path(__file__).parent / "apps" / "schemaless"
SERVER_ENV = {"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL"}


SETUPS = {"reruns-on-loop": ("sqlite", 0), "reruns-on-a-process": ("sqlite", 1), "postgres": ("postgres", 1)}


@pytest.fixture(scope="module", params=list(SETUPS))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server on SQLite with re-runs on its event loop or on one worker process
    (``knobs.RERUN_PROCESSES``), or on PostgreSQL with a worker process."""
    store, processes = SETUPS[request.param]
    data = tmp_path_factory.mktemp("subscriptions") / "data"
    stores = Stores(store)
    env = {**SERVER_ENV, "OPENCOM_RERUN_PROCESSES": str(processes), DATABASE_URL_VARIABLE: stores.url_for(data) or ""}
    running = start_server(APP, data, env=env)
    yield running
    stats = asyncio.run(server_stats(running))
    # Every test ran: the process took re-runs (or, with none, none left the loop), and with nothing
    # under way no commit is kept for results still to come back.
    assert (stats["rerunProcessBatches"] > 0) == bool(processes), stats
    assert stats["commitsKeptForWorkers"] == 0, stats
    assert running.stop() == 0, running.log()
    stores.drop_all()


async def server_stats(server: RunningServer) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + "/api/_opencom/stats", headers=server.admin_headers) as response,
    ):
        return await response.json()


def name() -> str:
    return f"n-{uuid.uuid4().hex[:8]}"


async def executions(connection: SyncConnection, server: RunningServer, path: str) -> int:
    return int((await connection.stats(server))["queryExecutionsByPath"].get(path, 0))


async def write(connection: SyncConnection, request_id: int, path: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation and wait for its response and the Transition after it."""
    await connection.send(mutation(request_id, path, args))
    response = await connection.until(
        lambda frame, _: frame["type"] == "MutationResponse" and frame["requestId"] == request_id
    )
    await connection.until(
        lambda frame, _: (
            frame["type"] == "Transition" and ts_value(frame["endVersion"]["ts"]) >= ts_value(response["ts"])
        )
    )
    return response


# --- precision and sharing --------------------------------------------------------------------
async def test_writes_outside_a_read_set_rerun_nothing_and_inside_rerun_once(server: RunningServer) -> None:
    watched, other = name(), name()
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "messages:list", {"channel": watched})))
        await connection.expect("Transition")
        before = await executions(connection, server, "messages:list")
        await write(connection, 0, "messages:send", {"channel": other, "body": "elsewhere"})
        assert await executions(connection, server, "messages:list") == before
        await write(connection, 1, "messages:send", {"channel": watched, "body": "here"})
        assert connection.value(0) == ["here"]
        assert await executions(connection, server, "messages:list") == before + 1


async def test_identical_subscribers_share_one_execution_per_invalidation(server: RunningServer) -> None:
    room = name()
    async with AsyncExitStack() as stack:
        watchers = [await stack.enter_async_context(SyncConnection.open(server)) for _ in range(5)]
        before = await executions(watchers[0], server, "messages:list")
        for watcher in watchers:
            await watcher.send(modify(0, add_query(3, "messages:list", {"channel": room})))
            await watcher.expect("Transition")
        assert await executions(watchers[0], server, "messages:list") == before + 1
        await write(watchers[0], 0, "messages:send", {"channel": room, "body": "to all"})
        for watcher in watchers:
            await watcher.settle(lambda c: c.value(3) == ["to all"])
        assert await executions(watchers[0], server, "messages:list") == before + 2


async def test_a_reconnecting_client_is_served_from_the_retained_result_until_a_commit_touches_it(
    server: RunningServer,
) -> None:
    room, other = name(), name()
    async with SyncConnection.open(server) as writer:
        await write(writer, 0, "messages:send", {"channel": room, "body": "before"})
        async with SyncConnection.open(server) as first:
            await first.send(modify(0, add_query(0, "messages:list", {"channel": room})))
            await first.settle(lambda c: 0 in c.results and c.value(0) == ["before"])
        runs = await executions(writer, server, "messages:list")
        # Nobody watches it now; a commit elsewhere leaves it as it is.
        await write(writer, 1, "messages:send", {"channel": other, "body": "elsewhere"})
        async with SyncConnection.open(server) as again:
            await again.send(modify(0, add_query(0, "messages:list", {"channel": room})))
            await again.settle(lambda c: 0 in c.results and c.value(0) == ["before"])
        assert await executions(writer, server, "messages:list") == runs
        # A commit into its read set drops it: the next client gets a fresh run with the new message.
        await write(writer, 2, "messages:send", {"channel": room, "body": "after"})
        async with SyncConnection.open(server) as later:
            await later.send(modify(0, add_query(0, "messages:list", {"channel": room})))
            await later.settle(lambda c: 0 in c.results and c.value(0) == ["before", "after"])
        assert await executions(writer, server, "messages:list") == runs + 1


async def test_unchanged_results_are_not_resent(server: RunningServer) -> None:
    counter = name()
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "counters:get", {"name": counter})))
        await connection.expect("Transition")
        # Bumping by 0 rewrites the document (the query re-runs) but its value stays the same.
        await write(connection, 0, "counters:bump", {"name": counter, "by": 1.0})
        await write(connection, 1, "counters:bump", {"name": counter, "by": 0.0})
        assert connection.transitions[-1]["modifications"] == []
        assert connection.value(0) == 1.0


async def test_a_failing_query_reruns_when_the_data_it_read_changes(server: RunningServer) -> None:
    room = name()
    async with SyncConnection.open(server) as connection:
        created = await write(connection, 0, "messages:send", {"channel": room, "body": "first"})
        await connection.send(modify(0, add_query(0, "messages:body", {"id": created["result"]})))
        await connection.expect("Transition")
        assert connection.value(0) == "first"
        await write(connection, 1, "messages:remove", {"id": created["result"]})
        assert connection.results[0]["type"] == "QueryFailed" and connection.results[0]["errorData"] == {
            "code": "MISSING"
        }


async def test_queries_of_a_table_that_does_not_exist_yet_see_its_creation(tmp_path: Path) -> None:
    schemaless = start_server(SCHEMALESS_APP, tmp_path / "data", env=SERVER_ENV)
    try:
        async with SyncConnection.open(schemaless) as connection:
            await connection.send(modify(0, add_query(0, "notes:list")))
            await connection.expect("Transition")
            assert connection.value(0) == []
            await write(connection, 0, "notes:add", {"text": "the first note"})
            assert connection.value(0) == ["the first note"]
    finally:
        assert schemaless.stop() == 0, schemaless.log()


async def test_subscriptions_are_per_identity(server: RunningServer) -> None:
    async with SyncConnection.open(server) as alice, SyncConnection.open(server) as bob:
        for connection, subject in ((alice, "alice"), (bob, "bob")):
            identity = {"subject": subject, "issuer": "test", "tokenIdentifier": f"test|{subject}"}
            await connection.send(
                {
                    "type": "Authenticate",
                    "baseVersion": 0,
                    "tokenType": "Admin",
                    "value": server.admin_key,
                    "impersonating": identity,
                }
            )
            await connection.send(modify(0, add_query(0, "calls:whoami")))
            await connection.settle(lambda c: 0 in c.results)
        assert alice.value(0)["subject"] == "alice" and bob.value(0)["subject"] == "bob"


# --- consistency ------------------------------------------------------------------------------
async def test_transitions_never_mix_timestamps_under_concurrent_writers(server: RunningServer) -> None:
    first, second = name(), name()
    rounds, writers = 25, 3
    async with AsyncExitStack() as stack:
        readers = [await stack.enter_async_context(SyncConnection.open(server)) for _ in range(2)]
        await readers[0].send(
            modify(0, add_query(0, "counters:get", {"name": first}), add_query(1, "counters:get", {"name": second}))
        )
        await readers[1].send(modify(0, add_query(0, "counters:get", {"name": second})))
        await readers[1].send(modify(1, add_query(1, "counters:get", {"name": first})))
        pens = [await stack.enter_async_context(SyncConnection.open(server)) for _ in range(writers)]

        async def hammer(pen: SyncConnection) -> None:
            for request_id in range(rounds):
                await pen.send(mutation(request_id, "counters:bump_pair", {"first": first, "second": second}))
            await pen.until(lambda frame, _: frame["type"] == "MutationResponse" and frame["requestId"] == rounds - 1)

        async def watch(reader: SyncConnection) -> int:
            seen = 0
            while True:
                frame = await reader.receive()
                if frame["type"] != "Transition" or not {0, 1} <= set(reader.results):
                    continue
                seen += 1
                assert reader.value(0) == reader.value(1), frame  # both counters belong to one snapshot
                if reader.value(0) == rounds * writers:
                    return seen

        await asyncio.gather(*(hammer(pen) for pen in pens))
        seen = await asyncio.gather(*(watch(reader) for reader in readers))
        assert all(count >= 1 for count in seen)


async def test_slow_reruns_do_not_hold_back_responses_to_unrelated_mutations(server: RunningServer) -> None:
    watched, unrelated = name(), name()
    reruns, milliseconds = 40, 40.0  # one commit starts 1.6 s of re-runs
    async with AsyncExitStack() as stack:
        watcher, writer, bystander = [await stack.enter_async_context(SyncConnection.open(server)) for _ in range(3)]
        queries = [
            add_query(index, "counters:slow", {"name": watched, "variant": float(index), "milliseconds": milliseconds})
            for index in range(reruns)
        ]
        await watcher.send(modify(0, *queries))
        await watcher.settle(lambda c: len(c.results) == reruns)
        await writer.send(modify(0, add_query(0, "counters:get", {"name": watched})))
        await writer.expect("Transition")
        before = await executions(writer, server, "counters:slow")

        response = await write_response(writer, 0, "counters:bump", {"name": watched})
        await bystander.send(mutation(0, "counters:bump", {"name": unrelated}))
        await bystander.expect("MutationResponse")
        # Both answers came while the re-runs the first commit started were still going.
        assert await executions(writer, server, "counters:slow") < before + reruns
        # The writer's next Transition, whenever it comes, shows its write (read-your-writes).
        transition = await writer.until(lambda frame, _: frame["type"] == "Transition")
        assert ts_value(transition["endVersion"]["ts"]) >= ts_value(response["ts"])
        assert writer.value(0) == 1.0
        await watcher.settle(lambda c: all(c.value(index) == 1.0 for index in range(reruns)))


async def write_response(connection: SyncConnection, request_id: int, path: str, args: dict[str, Any]) -> dict[str, Any]:
    """Send a mutation and return its response (not waiting for the Transition after it)."""
    await connection.send(mutation(request_id, path, args))
    return await connection.until(
        lambda frame, _: frame["type"] == "MutationResponse" and frame["requestId"] == request_id
    )


# --- slow readers -----------------------------------------------------------------------------
class RawSocketClient:
    """A WebSocket client on a socket with a tiny receive buffer that reads only when told to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawSocketClient:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
        # A small buffer limit: the stream stops taking bytes off the socket once it holds a few frames.
        reader, writer = await asyncio.open_connection(sock=raw, limit=1 << 16)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /api/sync HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send(self, frame: dict[str, Any]) -> None:
        payload, mask = json.dumps(frame).encode(), os.urandom(4)
        assert len(payload) < 1 << 16
        length = (
            bytes([0x80 | len(payload)])
            if len(payload) < 126
            else bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        )
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.writer.write(b"\x81" + length + mask + masked)
        await self.writer.drain()

    async def receive(self) -> dict[str, Any]:
        head = await asyncio.wait_for(self.reader.readexactly(2), 10)
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", await self.reader.readexactly(8))
        assert head[0] == 0x81, head  # one unfragmented text frame per message
        return json.loads(await asyncio.wait_for(self.reader.readexactly(length), 10))

    def close(self) -> None:
        self.writer.close()


async def test_a_slow_reader_neither_stalls_others_nor_piles_up_transitions(server: RunningServer) -> None:
    counter, bumps, padding = name(), 40, 300_000
    slow = await RawSocketClient.connect(server.port)
    try:
        await slow.send({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0, "clientTs": 0})
        await slow.send(modify(0, add_query(0, "counters:padded", {"name": counter, "size": float(padding)})))
        first = await slow.receive()  # subscribed; from here on the slow client reads nothing
        end_version, value, transitions = first["endVersion"], 0.0, 0
        async with SyncConnection.open(server) as fast:
            await fast.send(modify(0, add_query(0, "counters:get", {"name": counter})))
            for request_id in range(bumps):
                # One at a time, each shown before the next: every bump owes the slow reader its own Transition.
                await write(fast, request_id, "counters:bump", {"name": counter})
            await fast.settle(lambda c: c.results.get(0, {}).get("value") == float(bumps), timeout=30)
            stats = await fast.stats(server)
            assert stats["mergedTransitions"] > 0  # the slow reader's waiting Transitions were folded together
            assert stats["pendingFrames"] <= 2
        while value != float(bumps):
            frame = await slow.receive()
            if frame["type"] == "Transition":
                assert frame["startVersion"] == end_version
                end_version, transitions = frame["endVersion"], transitions + 1
                for modification in frame["modifications"]:
                    value = modification["value"]["value"]
        assert transitions < bumps
    finally:
        slow.close()


# --- pagination journals ----------------------------------------------------------------------
async def test_paginated_subscriptions_keep_their_page_end_through_the_journal(server: RunningServer) -> None:
    room = name()
    options = {"numItems": 2.0, "cursor": None}
    async with SyncConnection.open(server) as connection:
        ids = [
            (await write(connection, i, "messages:send", {"channel": room, "body": body}))["result"]
            for i, body in enumerate("abc")
        ]
        await connection.send(modify(0, add_query(0, "messages:page", {"channel": room, "paginationOpts": options})))
        await connection.expect("Transition")
        first = connection.results[0]
        assert first["value"]["page"] == ["a", "b"] and first["value"]["isDone"] is False
        assert first["journal"] is not None
        await write(connection, 3, "messages:send", {"channel": room, "body": "d"})
        assert connection.value(0)["page"] == ["a", "b"]  # beyond the page's end: not part of it
        await write(connection, 4, "messages:remove", {"id": ids[1]})
        assert connection.value(0)["page"] == ["a"]  # the page keeps its end instead of sliding on
        assert connection.results[0]["journal"] == first["journal"]
        # A client resubscribing with the journal gets the same page end, even with more rows around.
        async with SyncConnection.open(server) as later:
            await later.send(
                modify(0, add_query(0, "messages:page", {"channel": room, "paginationOpts": options}, first["journal"]))
            )
            await later.expect("Transition")
            assert later.value(0)["page"] == ["a"] and later.results[0]["journal"] == first["journal"]


# --- the logs stream --------------------------------------------------------------------------
async def test_the_logs_stream_reports_every_execution(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        logs = await http.ws_connect(server.url + "/api/_opencom/logs", headers=server.admin_headers)
        async with SyncConnection.open(server) as connection:
            await connection.send(modify(0, add_query(0, "calls:noisy", {"text": "streamed"})))
            await connection.expect("Transition")
            await connection.send(mutation(0, "calls:mutation_fails"))
            await connection.expect("MutationResponse")
        events = [json.loads((await logs.receive(10)).data) for _ in range(2)]
        await logs.close()
    query, failed = events
    assert (query["path"], query["kind"], query["outcome"], query["logLines"]) == (
        "calls:noisy",
        "query",
        "success",
        ["[LOG] saw streamed"],
    )
    assert (failed["path"], failed["kind"], failed["outcome"]) == ("calls:mutation_fails", "mutation", "failure")
    assert failed["error"] == "Uncaught Error: mutation boom" and failed["durationMs"] >= 0


async def test_operator_endpoints_require_the_admin_key(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/api/_opencom/stats") as response:
            assert response.status == 401 and (await response.json())["code"] == "BadAdminKey"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(server.url + "/api/_opencom/logs")
