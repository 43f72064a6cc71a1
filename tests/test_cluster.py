"""Three servers, one deployment: real server processes sharing one PostgreSQL database.

Each test gets a fresh database and three ``python -m runtime.server`` processes on it, sharing one
data directory (the admin key, the issuer's keys and stored files). The first starts alone and
creates the keys; the other two start together. Without ``OPENCOM_TEST_POSTGRES_URL`` these tests
skip with one line naming it (and fail under ``CI=true``).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from runtime.store import DATABASE_URL_VARIABLE
from tests.driver_process import Driver
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server, ts_value
from tests.store_fixtures import Stores
from tests.test_serializability import replay_transfer

pytestmark = pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)

APP = Path(__file__).parent / "apps" / "cluster"
DRIVER = Path(__file__).parent / "official_python_driver.py"
WAIT_S = 20.0


@pytest.fixture
def nodes(tmp_path: Path, store_kind: Stores) -> Iterator[list[RunningServer]]:
    """Three servers on one fresh PostgreSQL database and one shared data directory."""
    data = tmp_path / "data"
    env = {DATABASE_URL_VARIABLE: store_kind.url_for(data) or ""}
    servers = [start_server(APP, data, env=env)]
    try:
        # The other two together: their schema installs and first commits race each other.
        with ThreadPoolExecutor(2) as pool:
            servers += list(pool.map(lambda _: start_server(APP, data, env=env), range(2)))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
async def official(nodes: list[RunningServer]) -> AsyncIterator[Any]:
    """Official PyPI clients, each connected to the node it is given."""
    drivers: list[Driver] = []

    async def start(node: RunningServer) -> Driver:
        driver = await Driver.start([sys.executable, str(DRIVER), node.url])
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        await driver.close()


async def call(http: aiohttp.ClientSession, node: RunningServer, kind: str, path: str, args: dict[str, Any]) -> Any:
    """One public function through the HTTP API; raises on a failed call."""
    async with http.post(f"{node.url}/api/{kind}", json={"path": path, "args": args, "format": "json"}) as response:
        body = await response.json()
    assert response.status == 200 and body["status"] == "success", body
    return body["value"]


async def eventually(http: aiohttp.ClientSession, node: RunningServer, path: str, done: Any) -> Any:
    """Poll a query on ``node`` until ``done(value)``; bounded by ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = await call(http, node, "query", path, {})
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_official_clients_on_different_nodes_see_each_others_mutations_live(
    nodes: list[RunningServer], official: Any
) -> None:
    watcher_a, writer_b, writer_c = await official(nodes[0]), await official(nodes[1]), await official(nodes[2])
    await watcher_a.call("subscribe", sub="chat", path="chat:everything", args={})
    assert await watcher_a.call("next", sub="chat") == []
    await writer_b.call("mutation", path="chat:send", args={"author": "b", "body": "from node b"})
    seen = await watcher_a.next_until("chat", lambda value: len(value) == 1)
    assert seen[0]["body"] == "from node b"
    await writer_c.call("subscribe", sub="chat", path="chat:everything", args={})
    await writer_c.next_until("chat", lambda value: len(value) == 1)
    await (await official(nodes[0])).call("mutation", path="chat:send", args={"author": "a", "body": "from node a"})
    for client in (watcher_a, writer_c):
        bodies = [m["body"] for m in await client.next_until("chat", lambda value: len(value) == 2)]
        assert bodies == ["from node b", "from node a"]


def wrote(args: dict[str, Any], result: dict[str, Any]) -> bool:
    return bool(result["moved"]) and args["source"] != args["target"]


async def test_npm_clients_on_different_nodes_see_each_others_mutations_live(nodes: list[RunningServer]) -> None:
    node = node_with_convex()
    watcher = await Driver.start([node, "driver.mjs", nodes[1].url], cwd=str(NPM_DIR))
    writer = await Driver.start([node, "driver.mjs", nodes[2].url], cwd=str(NPM_DIR))
    try:
        await watcher.call("subscribe", sub="chat", path="chat:everything", args={})
        assert await watcher.call("next", sub="chat") == []
        await writer.call("mutation", path="chat:send", args={"author": "js", "body": "from node c"})
        seen = await watcher.next_until("chat", lambda value: len(value) == 1)
        assert seen[0]["body"] == "from node c"
    finally:
        await watcher.close()
        await writer.close()


async def test_concurrent_transfers_on_three_nodes_follow_one_commit_order(nodes: list[RunningServer]) -> None:
    async with aiohttp.ClientSession() as http:
        ids = [
            await call(http, nodes[0], "mutation", "bank:open_account", {"name": f"acct{i}", "balance": 100})
            for i in range(5)
        ]
    names = {doc_id: f"acct{i}" for i, doc_id in enumerate(ids)}
    rng = random.Random(11)
    plans = [
        [{"source": rng.choice(ids), "target": rng.choice(ids), "amount": rng.randint(1, 70)} for _ in range(40)]
        for _ in nodes
    ]
    outcomes: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    async def run(node: RunningServer, plan: list[dict[str, Any]]) -> None:
        async with SyncConnection.open(node) as connection:
            for request_id, args in enumerate(plan):
                await connection.send(mutation(request_id, "bank:transfer", args))
            for _ in plan:
                frame = await connection.until(lambda frame, _: frame["type"] == "MutationResponse")
                assert frame["success"], frame
                outcomes.append((ts_value(frame["ts"]), plan[frame["requestId"]], frame["result"]))

    async with SyncConnection.open(nodes[0]) as watcher:
        await watcher.send(modify(0, add_query(0, "bank:balances")))
        shown = [await watcher.until(lambda frame, _: frame["type"] == "Transition")]
        transfers = asyncio.gather(*(run(node, plan) for node, plan in zip(nodes, plans)))
        while not transfers.done():  # every Transition the watcher on the first node is sent
            with suppress(TimeoutError):
                shown.append(await watcher.until(lambda frame, _: frame["type"] == "Transition", timeout=0.2))
        await transfers
        last_ts = max(ts for ts, _, _ in outcomes)
        while ts_value(shown[-1]["endVersion"]["ts"]) < last_ts:  # until it shows the last commit
            shown.append(await watcher.until(lambda frame, _: frame["type"] == "Transition"))
    assert len(outcomes) == 120
    writes = [(ts, args, result) for ts, args, result in outcomes if wrote(args, result)]
    assert len({ts for ts, _, _ in writes}) == len(writes), "two commits share a timestamp"
    balances = {name: 100 for name in names.values()}
    states = [(0, dict(balances))]  # the balances after each commit, by its timestamp
    # A transfer that wrote nothing answers at the timestamp of the last commit it saw: after it.
    in_order = sorted(outcomes, key=lambda outcome: (outcome[0], not wrote(outcome[1], outcome[2])))
    anomalies = []
    for ts, args, result in in_order:
        if replay_transfer(balances, names, args) != result:
            anomalies.append((ts, args, result))
        states.append((ts, dict(balances)))
    assert anomalies == []
    # Each Transition shows one snapshot: the balances right after the last commit at or before its ts.
    for frame in shown:
        shown_ts = ts_value(frame["endVersion"]["ts"])
        value = next((m["value"] for m in frame["modifications"] if m["queryId"] == 0), None)
        if value is not None:
            assert value == [state for ts, state in states if ts <= shown_ts][-1], shown_ts
    async with aiohttp.ClientSession() as http:
        for node in nodes:
            assert await call(http, node, "query", "bank:balances", {}) == balances


async def test_a_killed_node_loses_no_acknowledged_write_and_the_others_take_over(nodes: list[RunningServer]) -> None:
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def write(http: aiohttp.ClientSession, node: RunningServer, author: str) -> None:
        n = 0
        while not stop.is_set():
            try:
                await call(http, node, "mutation", "chat:send", {"author": author, "body": f"{author}{n}"})
            except (aiohttp.ClientError, AssertionError):
                if node.process.poll() is not None:
                    return  # the node is gone: only what it acknowledged counts
                continue
            acknowledged.append(f"{author}{n}")
            n += 1

    async with aiohttp.ClientSession() as http:
        writers = [asyncio.create_task(write(http, node, name)) for node, name in zip(nodes, "abc")]
        await asyncio.sleep(1.0)
        nodes[0].kill()  # the first node: it holds the scheduler lease too
        killed_at = time.monotonic()
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*writers)
        survivors_wrote = [body for body in acknowledged if body[0] != "a"]
        assert any(body[0] == "b" for body in survivors_wrote) and any(body[0] == "c" for body in survivors_wrote)

        stored = {m["body"] for m in await call(http, nodes[1], "query", "chat:everything", {})}
        assert set(acknowledged) <= stored
        # The scheduler moved too: a job scheduled now runs on one of the survivors.
        await call(http, nodes[2], "mutation", "jobs:schedule", {"first": 0, "count": 1, "delay_ms": 0})
        assert await eventually(http, nodes[1], "jobs:runs", lambda runs: runs == [0]) == [0]
        assert time.monotonic() - killed_at < WAIT_S


async def test_scheduled_jobs_run_once_across_the_cluster(nodes: list[RunningServer]) -> None:
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(
            *(
                call(http, node, "mutation", "jobs:schedule", {"first": 10 * n, "count": 10, "delay_ms": 200 * n})
                for n, node in enumerate(nodes)
            )
        )
        runs = await eventually(http, nodes[2], "jobs:runs", lambda runs: len(runs) >= 30)
        await asyncio.sleep(0.5)  # time for a duplicate to show up, if any node ran a job twice
        runs = await call(http, nodes[0], "query", "jobs:runs", {})
    assert sorted(runs) == list(range(30))


async def test_a_file_stored_through_one_node_is_served_and_deleted_through_the_others(
    nodes: list[RunningServer],
) -> None:
    async with aiohttp.ClientSession() as http:
        storage_id = await call(http, nodes[0], "action", "files:store_text", {"text": "shared"})
        url = await call(http, nodes[1], "query", "files:url", {"id": storage_id})
        assert url.startswith(nodes[1].url)
        async with http.get(url) as response:
            assert response.status == 200 and await response.text() == "shared"
        await call(http, nodes[2], "mutation", "files:delete", {"id": storage_id})
        assert await call(http, nodes[0], "query", "files:url", {"id": storage_id}) is None
        async with http.get(url) as response:
            assert response.status == 404


async def test_nodes_reconnect_after_postgresql_drops_every_connection(
    nodes: list[RunningServer], store_kind: Stores
) -> None:
    url = store_kind.url_for(nodes[0].data_dir)
    async with aiohttp.ClientSession() as http, SyncConnection.open(nodes[0]) as watcher:
        await watcher.send(modify(0, add_query(0, "chat:everything")))
        await watcher.until(lambda frame, _: frame["type"] == "Transition")
        with psycopg.connect(url, autocommit=True) as admin:  # what a PostgreSQL restart does
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        failures: list[str] = []
        for node in nodes:  # each node's first statements fail at once and say why; then it works again
            deadline = time.monotonic() + WAIT_S
            while True:
                args = {"author": "n", "body": node.url}
                async with http.post(f"{node.url}/api/mutation", json={"path": "chat:send", "args": args}) as response:
                    body = await response.json()
                if body["status"] == "success" or time.monotonic() > deadline:
                    break
                failures.append(body["errorMessage"])
                await asyncio.sleep(0.2)
            assert body["status"] == "success", body
        assert all("PostgreSQL connection lost" in failure for failure in failures), failures
        # The watcher on the first node sees the others' writes: its commit feed reconnected too.
        await watcher.until(lambda frame, connection: len(connection.value(0)) == 3)
