"""Live-query re-runs on worker processes: what happens when a worker or the server dies.

Consistency with workers on is checked where it is for the event loop (``test_subscriptions``
runs every test both ways); here the processes themselves are killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import pytest

from runtime.store import DATABASE_URL_VARIABLE
from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server
from tests.store_fixtures import Stores

APP = Path(__file__).parent / "apps" / "sync"
SERVER_ENV = {"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL", "OPENCOM_RERUN_PROCESSES": "1"}


def worker_pids(server_pid: int) -> list[int]:
    """The server's re-run worker processes (its children started by ``multiprocessing.spawn``)."""
    try:
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def bump_until_a_process_ran_it(server: RunningServer, connection: SyncConnection, counter: str) -> int:
    """Bump ``counter`` until a batch came back from a worker process; returns the bumps made."""
    for bumps in range(1, 200):
        await connection.send(mutation(bumps, "counters:bump", {"name": counter}))
        await connection.settle(lambda client, expected=float(bumps): client.value(0) == expected)
        if (await connection.stats(server))["rerunProcessBatches"] > 0:
            return bumps
        await asyncio.sleep(0.05)  # the process is still starting
    raise AssertionError("no re-run reached the worker process")


async def test_a_dead_worker_sends_reruns_back_to_the_event_loop(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=SERVER_ENV)
    try:
        counter = f"c-{uuid.uuid4().hex[:8]}"
        async with SyncConnection.open(server) as connection:
            await connection.send(modify(0, add_query(0, "counters:get", {"name": counter})))
            await connection.settle(lambda client: 0 in client.results)
            bumps = await bump_until_a_process_ran_it(server, connection, counter)
            (worker,) = worker_pids(server.process.pid)
            os.kill(worker, signal.SIGKILL)
            for more in range(1, 4):
                await connection.send(mutation(bumps + more, "counters:bump", {"name": counter}))
                await connection.settle(lambda client, expected=float(bumps + more): client.value(0) == expected)
            assert (await connection.stats(server))["rerunProcesses"] == 0
    finally:
        assert server.stop() == 0, server.log()
    assert "a re-run worker process failed" in server.log()


async def test_workers_do_not_outlive_a_killed_server(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=SERVER_ENV)
    counter = f"c-{uuid.uuid4().hex[:8]}"
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "counters:get", {"name": counter})))
        await connection.settle(lambda client: 0 in client.results)
        await bump_until_a_process_ran_it(server, connection, counter)
        workers = worker_pids(server.process.pid)
    assert workers
    server.process.kill()
    server.process.wait()
    for _ in range(100):
        if not any(alive(pid) for pid in workers):
            break
        await asyncio.sleep(0.05)
    assert not any(alive(pid) for pid in workers)


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
async def test_workers_read_a_postgresql_deployment(tmp_path: Path, store_kind: Stores) -> None:
    data = tmp_path / "data"
    env = {**SERVER_ENV, DATABASE_URL_VARIABLE: store_kind.url_for(data) or ""}
    server = start_server(APP, data, env=env)
    try:
        counter = f"c-{uuid.uuid4().hex[:8]}"
        async with SyncConnection.open(server) as connection:
            await connection.send(modify(0, add_query(0, "counters:get", {"name": counter})))
            await connection.settle(lambda client: 0 in client.results)
            await bump_until_a_process_ran_it(server, connection, counter)
            assert (await connection.stats(server))["rerunProcesses"] == 1
    finally:
        assert server.stop() == 0, server.log()
    assert "a re-run worker process failed" not in server.log()
