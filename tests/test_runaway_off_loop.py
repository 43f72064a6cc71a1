"""Long queries and mutations finish on a worker thread while the event loop serves other clients.

A function past the loop's CPU budget (``knobs.LOOP_CPU_BUDGET_S``) is run again on a worker
(``runtime.database.off_loop``): these tests check that its outcome is the fast path's, and that other
clients are answered, over real sockets, before a runaway's time-out error arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime import knobs
from runtime.functions.executor import Executor, FunctionResult
from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server

APP = Path(__file__).parent / "apps" / "security"
TIMED_OUT = "Function execution timed out (maximum duration: 1s)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("off_loop") / "data"
    running = start_server(APP, data_dir, env={"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL"})
    yield running
    assert running.stop() == 0, running.log()


async def post(http: aiohttp.ClientSession, server: RunningServer, kind: str, path: str, args: Any) -> dict[str, Any]:
    body = {"path": path, "args": args, "format": "json"}
    async with http.post(f"{server.url}/api/{kind}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def victim_is_served(http: aiohttp.ClientSession, server: RunningServer, *, mutate: bool) -> None:
    """Another client's subscription, HTTP query and (if ``mutate``) mutations over both are all answered."""
    async with SyncConnection.open(server) as victim:
        await victim.send(modify(0, add_query(0, "limits:echo", {"text": "subscribed"})))
        await victim.settle(lambda client: 0 in client.results)
        assert victim.value(0) == "subscribed"
        if mutate:
            await victim.send(mutation(0, "notes:add", {"text": "victim"}))
            response = await victim.until(lambda frame, _: frame["type"] == "MutationResponse")
            assert response["success"], response
    assert (await post(http, server, "query", "limits:echo", {"text": "plain"}))["value"] == "plain"
    if mutate:
        for number in range(3):
            added = await post(http, server, "mutation", "notes:add", {"text": f"victim-http-{number}"})
            assert added["status"] == "success", added


async def test_others_are_answered_before_a_runaway_query_times_out(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        runaway = asyncio.create_task(post(http, server, "query", "runaway:spin", {}))
        await asyncio.sleep(0.1)  # let it start (not asserted: if it has not, the order below still holds)
        await victim_is_served(http, server, mutate=True)
        assert not runaway.done()
        result = await runaway
    assert result["status"] == "error" and result["errorMessage"].endswith(TIMED_OUT)


async def test_others_mutations_commit_before_a_runaway_mutation_times_out(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, SyncConnection.open(server) as attacker:
        # 2.5 s of CPU after a write: it leaves the writer (runtime.database.optimistic) and is stopped at 1 s.
        await attacker.send(mutation(0, "runaway:write_then_compute", {"ms": 2500.0}))
        runaway = asyncio.create_task(attacker.until(lambda frame, _: frame["type"] == "MutationResponse"))
        await asyncio.sleep(0.1)
        await victim_is_served(http, server, mutate=True)
        assert not runaway.done()
        response = await runaway
        assert response["success"] is False and response["result"].endswith(TIMED_OUT)
        notes = await post(http, server, "query", "notes:list", {})
    assert "runaway:half-done" not in notes["value"]
    assert {"anonymous:victim", "anonymous:victim-http-0", "anonymous:victim-http-2"} <= set(notes["value"])


@pytest.fixture(scope="module", params=[0, 1], ids=["reruns-on-loop", "reruns-on-a-process"])
def rerun_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server, with subscription re-runs starting on its event loop or on a worker process."""
    data_dir = tmp_path_factory.mktemp("off_loop_reruns") / "data"
    env = {"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL", "OPENCOM_RERUN_PROCESSES": str(request.param)}
    running = start_server(APP, data_dir, env=env)
    yield running
    assert running.stop() == 0, running.log()


async def test_others_are_answered_before_a_runaway_subscription_times_out(rerun_server: RunningServer) -> None:
    server = rerun_server
    async with aiohttp.ClientSession() as http, SyncConnection.open(server) as attacker:
        await attacker.send(modify(0, add_query(0, "runaway:spin_on_signal", {"signal": "spin now"})))
        await attacker.settle(lambda client: 0 in client.results)
        # Its write makes the subscribed query run away when it is re-run.
        await attacker.send(mutation(0, "notes:add", {"text": "spin now"}))
        await attacker.until(lambda frame, _: frame["type"] == "MutationResponse")
        timed_out = asyncio.create_task(attacker.until(lambda _, client: client.results[0]["type"] == "QueryFailed"))
        await asyncio.sleep(0.1)
        await victim_is_served(http, server, mutate=True)
        assert not timed_out.done()
        await timed_out
    assert attacker.results[0]["errorMessage"].endswith(TIMED_OUT)


def counting_worker_runs(executor: Executor) -> list[str]:
    """Record each function the executor hands to a worker thread."""
    handed: list[str] = []
    run = executor.workers.run

    async def counted(function: Callable[..., Any], *args: Any) -> Any:
        handed.append(function.__name__)
        return await run(function, *args)

    executor.workers.run = counted  # type: ignore[method-assign]
    return handed


def same_outcome(fast: FunctionResult, moved: FunctionResult) -> None:
    assert moved.ok and fast.ok, (fast.error, moved.error)
    assert moved.value == fast.value
    assert moved.log_lines == fast.log_lines and fast.log_lines
    assert fast.read_set is not None and moved.read_set is not None
    assert moved.read_set.intervals == fast.read_set.intervals and fast.read_set.intervals
    assert moved.proofs == fast.proofs


async def test_a_slow_query_and_mutation_moved_off_the_loop_do_what_the_fast_path_does(
    open_executor: Callable[..., Executor], monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = open_executor(APP)
    executor.run_scheduled_jobs = False
    for number in range(5):
        await executor.call("notes:add", {"text": f"n{number}"})
    handed = counting_worker_runs(executor)

    async def run_both(path: str, args_of: Callable[[str], dict[str, Any]]) -> tuple[FunctionResult, FunctionResult]:
        monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 10.0)
        fast = await executor.run(path, args_of("fast"))
        assert handed == []
        monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 0.01)
        moved = await executor.run(path, args_of("moved"))
        assert len(handed) == 1
        handed.clear()
        return fast, moved

    same_outcome(*await run_both("runaway:slow_read", lambda _: {"ms": 200.0}))
    fast, moved = await run_both("runaway:slow_write", lambda name: {"ms": 200.0, "text": name})
    same_outcome(fast, moved)
    assert moved.ts is not None and fast.ts is not None and moved.ts > fast.ts
    # Both wrote once and scheduled once: the discarded first attempt left nothing behind.
    notes = await executor.call("notes:list", {})
    assert [note for note in notes if note.startswith("slow:")] == ["slow:fast", "slow:moved"]
    scheduled = await executor.call("limits:system_rows", {"table": "_scheduled_functions"})
    assert sorted(row["args"][0]["text"] for row in scheduled) == ["fast-later", "moved-later"]
