"""``ctx.connection`` over the real server: what a committed mutation proves is known to later calls on
its own WebSocket connection only, its live queries follow, and HTTP proves nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server

APP = Path(__file__).parent / "apps" / "sync"
MAX_PROOFS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"OPENCOM_SYNC_MAX_CONNECTION_PROOFS": str(MAX_PROOFS), "OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL"}
    running = start_server(APP, tmp_path_factory.mktemp("proofs") / "data", env=env)
    yield running
    assert running.stop() == 0, running.log()


async def http(server: RunningServer, kind: str, path: str, args: dict) -> object:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/api/{kind}", json={"path": path, "args": args}) as answer:
            body = await answer.json()
    assert body["status"] == "success", body
    return body["value"]


async def response(connection: SyncConnection) -> dict:
    """The next MutationResponse (the Transitions between are observed on the way)."""
    return await connection.until(lambda frame, _: frame["type"] == "MutationResponse")


async def test_a_commit_proves_on_its_own_connection_and_its_queries_follow(server: RunningServer) -> None:
    async with SyncConnection.open(server) as prover, SyncConnection.open(server) as other:
        await prover.send(modify(0, add_query(0, "proofs:proven"), add_query(1, "proofs:has", {"ticket": "t1"})))
        await other.send(modify(0, add_query(0, "proofs:proven"), add_query(1, "proofs:has", {"ticket": "t1"})))
        await prover.settle(lambda c: 0 in c.results and 1 in c.results)
        await other.settle(lambda c: 0 in c.results and 1 in c.results)
        assert (prover.value(0), prover.value(1)) == ([], False)

        await prover.send(mutation(0, "proofs:prove", {"ticket": "t1"}))
        answer = await response(prover)
        assert answer["success"] and answer["result"] == "127.0.0.1"
        await prover.settle(lambda c: c.value(0) == ["t1"] and c.value(1) is True)

        # The other connection, and HTTP, asking the same thing: nothing proven.
        await other.send(mutation(0, "proofs:prove", {"ticket": "mine"}))
        await response(other)
        await other.settle(lambda c: c.value(0) == ["mine"])
        assert other.value(1) is False
        assert await http(server, "query", "proofs:proven", {}) == []
        assert await http(server, "mutation", "proofs:prove", {"ticket": "t1"}) == "127.0.0.1"
        assert await http(server, "query", "proofs:has", {"ticket": "t1"}) is False


async def test_rolled_back_proofs_are_forgotten_and_the_oldest_go_first(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "proofs:proven")))
        await connection.settle(lambda c: 0 in c.results)
        await connection.send(mutation(0, "proofs:prove", {"ticket": "doomed", "fail": True}))
        assert (await response(connection))["success"] is False
        await connection.send(mutation(1, "proofs:nested_failure"))
        nested = await response(connection)
        assert nested["success"] and nested["result"] == []  # proofs apply after the commit, not during it
        await connection.settle(lambda c: c.value(0) == ["outer"])

        for index, ticket in enumerate(("c", "b", "a"), start=2):
            await connection.send(mutation(index, "proofs:prove", {"ticket": ticket}))
            await response(connection)
        await connection.settle(lambda c: c.value(0) == ["a", "b", "c"])  # "outer", the oldest, is forgotten
        assert len(connection.value(0)) == MAX_PROOFS


async def test_a_replay_answered_from_the_log_proves_again_on_the_new_connection(server: RunningServer) -> None:
    session_id = str(uuid.uuid4())
    async with SyncConnection.open(server, session_id=session_id) as first:
        await first.send(mutation(0, "proofs:prove", {"ticket": "replayed"}))
        assert (await response(first))["success"]
    # The client reconnects and resends request 0: answered from the log (the new arguments are
    # never run), and what the first run proved now holds on the new connection.
    async with SyncConnection.open(server, session_id=session_id) as again:
        await again.send(mutation(0, "proofs:prove", {"ticket": "never run"}))
        assert (await response(again))["success"]
        await again.send(modify(0, add_query(0, "proofs:proven")))
        await again.settle(lambda c: 0 in c.results)
        assert again.value(0) == ["replayed"]
