"""Query-set amplification through the real server: one connection cannot multiply its cost.

Identical subscriptions share one execution and one result whatever their journals, a connection's
held results are capped, its work is scheduled fairly against other connections', and everything it
held is released when it goes (but for results retained for reconnecting clients, which are bounded).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server

APP = Path(__file__).parent / "apps" / "security"
RESULT_BUDGET = 200_000
SERVER_ENV = {"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL", "OPENCOM_SYNC_MAX_RESULT_BYTES": str(RESULT_BUDGET)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path / "data", env=SERVER_ENV)
    yield running
    assert running.stop() == 0, running.log()


async def test_copies_with_different_journals_share_one_execution(server: RunningServer) -> None:
    async with SyncConnection.open(server) as writer:
        await writer.send(mutation(0, "notes:add", {"text": "hello"}))
        await writer.until(lambda frame, _: frame["type"] == "MutationResponse")
    async with SyncConnection.open(server) as attacker:
        before = await attacker.stats(server)
        copies = [add_query(query_id, "notes:list", {}, journal=f"j{query_id}") for query_id in range(512)]
        await attacker.send(modify(0, *copies))
        transition = await attacker.expect("Transition")
        assert len(transition["modifications"]) == 512
        assert {str(m["value"]) for m in transition["modifications"]} == {"['anonymous:hello']"}
        after = await attacker.stats(server)
        assert after["queryExecutions"] - before["queryExecutions"] == 1
        assert after["subscriptions"] == before["subscriptions"] + 1
    # Everything the connection held goes with it, but for its one distinct result, retained (a
    # bounded number of them) until the first commit that touches it.
    async with SyncConnection.open(server) as observer:
        stats = await observer.stats(server)
        deadline = time.monotonic() + 10
        while stats["connections"] > 1 and time.monotonic() < deadline:
            stats = await observer.stats(server)
        assert (stats["connections"], stats["subscriptions"], stats["retainedQueries"]) == (1, 0, 1)
        await observer.send(mutation(0, "notes:add", {"text": "again"}))
        await observer.until(lambda frame, _: frame["type"] == "MutationResponse")
        stats = await observer.stats(server)
        while stats["retainedQueries"] and time.monotonic() < deadline:
            stats = await observer.stats(server)
        assert (stats["subscriptions"], stats["retainedQueries"], stats["intervals"]) == (0, 0, 0)


async def test_journals_still_matter_to_a_paginated_query(server: RunningServer) -> None:
    async with SyncConnection.open(server) as client:
        for request_id in range(3):
            await client.send(mutation(request_id, "notes:add", {"text": f"n{request_id}"}))
        for _ in range(3):
            await client.until(lambda frame, _: frame["type"] == "MutationResponse")
        options = {"numItems": 2.0, "cursor": None}
        await client.send(modify(0, add_query(0, "notes:page", {"paginationOpts": options})))
        await client.settle(lambda c: 0 in c.results)
        first = client.value(0)
        assert [note["text"] for note in first["page"]] == ["n0", "n1"]
        # The same page pinned to its first journal, and left open-ended: two different results.
        await client.send(
            modify(
                1,
                add_query(1, "notes:page", {"paginationOpts": options}, journal=first["continueCursor"]),
                add_query(2, "notes:page", {"paginationOpts": {**options, "numItems": 3.0}}),
            )
        )
        await client.settle(lambda c: 1 in c.results and 2 in c.results)
        assert client.value(1)["continueCursor"] == first["continueCursor"]
        stats = await client.stats(server)
        assert stats["subscriptions"] == 3


async def test_a_connection_holding_too_much_gets_a_clear_failure_for_the_excess(server: RunningServer) -> None:
    async with SyncConnection.open(server) as client:
        queries = [add_query(query_id, "notes:padded", {"size": 60_000.0}) for query_id in range(5)]
        await client.send(modify(0, *queries))
        transition = await client.expect("Transition")
    by_id = {m["queryId"]: m for m in transition["modifications"]}
    # Each result is ~60 kB: three fit in the 200 kB budget, the rest are refused.
    assert [by_id[query_id]["type"] for query_id in range(5)] == ["QueryUpdated"] * 3 + ["QueryFailed"] * 2
    assert by_id[4]["errorMessage"].endswith(
        "Uncaught Error: The results of this connection's queries are too large to hold (limit: 195.31 KiB). "
        "Subscribe to fewer or smaller queries."
    )
    # Another connection is not charged for this one's results.
    async with SyncConnection.open(server) as other:
        await other.send(modify(0, add_query(0, "notes:padded", {"size": 60_000.0})))
        assert (await other.expect("Transition"))["modifications"][0]["type"] == "QueryUpdated"


async def test_one_connections_slow_queries_do_not_hold_up_another(server: RunningServer) -> None:
    """A connection adding 2 s of queries at once; another's query is answered in between."""
    async with SyncConnection.open(server) as heavy, SyncConnection.open(server) as light:
        slow = [add_query(query_id, "runaway:burn", {"ms": 20.0, "tag": float(query_id)}) for query_id in range(100)]
        answered: list[str] = []

        async def wait(name: str, connection: SyncConnection, count: int) -> None:
            await connection.settle(lambda c: len(c.results) == count, timeout=60)
            answered.append(name)

        heavy_done = asyncio.create_task(wait("heavy", heavy, 100))
        light_done = asyncio.create_task(wait("light", light, 1))
        await heavy.send(modify(0, *slow))
        await light.send(modify(0, add_query(0, "notes:list", {})))
        await asyncio.gather(heavy_done, light_done)
    assert answered == ["light", "heavy"]
    assert heavy.value(99) == 99.0
