"""Scheduled functions (convex-semantics §7): transactional scheduling, exactly-once mutations,
at-most-once actions, cancel, validation and limits, and jobs that survive a ``kill -9``.

Every job of the fixture app leaves an "effects" row behind, so the tests count what ran.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.store import DATABASE_URL_VARIABLE
from tests.store_fixtures import BOTH_STORES, Stores

pytestmark = BOTH_STORES

APP = Path(__file__).parent / "apps" / "scheduler"
REPO = Path(__file__).parent.parent
DEADLINE_S = 30.0


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail after ``DEADLINE_S`` (a bound, not a speed assertion)."""
    deadline = time.monotonic() + DEADLINE_S
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def settled(executor: Executor, count: int | None = None) -> list[dict[str, Any]]:
    """Every job, once all of them (and at least ``count``) have finished."""

    async def done() -> bool:
        jobs = await executor.call("jobs:jobs")
        finished = all(job["state"]["kind"] not in ("pending", "inProgress") for job in jobs)
        return finished and (count is None or len(jobs) >= count)

    await until(done, "every scheduled job to finish")
    return await executor.call("jobs:jobs")


@pytest.fixture
def app_executor(open_executor: Callable[..., Executor]) -> Executor:
    return open_executor(APP)


# --- scheduling from mutations ------------------------------------------------------------------
async def test_a_scheduled_mutation_runs_once_and_its_job_succeeds(app_executor: Executor) -> None:
    job_id = await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "hello"})
    [job] = await settled(app_executor, 1)
    assert job["_id"] == job_id
    assert job["name"] == "jobs.js:record"
    assert job["args"] == [{"tag": "hello"}]
    assert job["state"] == {"kind": "success"}
    assert job["completedTime"] >= job["scheduledTime"]
    assert await app_executor.call("jobs:effects") == ["hello"]


async def test_the_job_row_is_pending_inside_the_scheduling_mutation(app_executor: Executor) -> None:
    job = await app_executor.call("jobs:schedule_and_read", {"tag": "a"})
    assert job["state"] == {"kind": "pending"} and job["args"] == [{"tag": "a"}] and "completedTime" not in job


async def test_a_failed_mutation_schedules_nothing(app_executor: Executor) -> None:
    result = await app_executor.run("jobs:schedule_then_fail", {"tag": "ghost"})
    assert result.error is not None and "changed my mind" in str(result.error)
    assert await app_executor.call("jobs:jobs") == []
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "marker"})
    await settled(app_executor, 1)
    assert await app_executor.call("jobs:effects") == ["marker"]


async def test_jobs_run_in_due_time_order(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_each", {"delays": [30.0, 0.0, 20.0, 10.0]})
    await settled(app_executor, 4)
    assert await app_executor.call("jobs:effects") == ["1", "3", "2", "0"]


async def test_jobs_due_together_run_in_scheduling_order(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_each", {"delays": [0.0] * 12})
    await settled(app_executor, 12)
    assert await app_executor.call("jobs:effects") == [str(n) for n in range(12)]


async def test_run_at_takes_a_timestamp_and_the_function_object(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_at", {"at": time.time() * 1000 - 1000, "tag": "past is fine"})
    [job] = await settled(app_executor, 1)
    assert job["name"] == "jobs.js:record" and job["state"] == {"kind": "success"}


async def test_scheduled_functions_run_without_identity(app_executor: Executor) -> None:
    identity = {"tokenIdentifier": "https://issuer|user", "subject": "user", "issuer": "https://issuer"}
    result = await app_executor.run("jobs:schedule_path", {"fn": "jobs:record_identity"}, identity=identity)
    assert result.error is None
    await settled(app_executor, 1)
    assert await app_executor.call("jobs:effects") == ["None"]


async def test_a_running_mutation_sees_its_own_job_in_progress(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_path", {"fn": "jobs:record_own_state"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "success"}
    assert await app_executor.call("jobs:effects") == ["inProgress"]


async def test_a_throwing_job_fails_and_leaves_no_writes(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "x", "fn": "jobs:record_then_fail"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "failed", "error": "Uncaught Error: boom x"}
    assert "completedTime" in job
    assert await app_executor.call("jobs:effects") == []


async def test_arguments_are_validated_when_the_job_runs(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_path", {"fn": "jobs:record", "args": {"tag": 5.0}})
    [job] = await settled(app_executor, 1)
    assert job["state"]["kind"] == "failed" and "ArgumentValidationError" in job["state"]["error"]


async def test_a_scheduled_query_fails_when_it_runs(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_path", {"fn": "jobs:a_query"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {
        "kind": "failed",
        "error": 'Unsupported function type. FunctionName("a_query") in module "jobs.js" is defined as a Query. '
        "Only Mutation and Action can be scheduled.",
    }


async def test_a_mutation_cannot_cancel_itself(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule_path", {"fn": "jobs:cancel_self"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "failed", "error": "Uncaught Error: A mutation cannot cancel itself"}


async def test_a_system_failure_is_retried_and_the_job_still_runs_once(
    app_executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "SCHEDULER_RETRY_INITIAL_S", 0.01)
    failures = [sqlite3.OperationalError("disk I/O error")]
    real = app_executor.run_in_transaction

    def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(app_executor, "run_in_transaction", flaky)
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "eventually"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "success"} and failures == []
    assert await app_executor.call("jobs:effects") == ["eventually"]


# --- cancel -------------------------------------------------------------------------------------
async def test_a_canceled_job_never_runs(app_executor: Executor) -> None:
    canceled = await app_executor.call("jobs:schedule", {"delay": 20.0, "tag": "canceled"})
    await app_executor.call("jobs:cancel", {"id": canceled})
    # A later job finishing proves the canceled one's time came and went.
    await app_executor.call("jobs:schedule", {"delay": 60.0, "tag": "later"})
    await settled(app_executor, 2)
    job = await app_executor.call("jobs:job", {"id": canceled})
    assert job["state"] == {"kind": "canceled"} and "completedTime" in job
    assert await app_executor.call("jobs:effects") == ["later"]


async def test_canceling_a_finished_job_changes_nothing(app_executor: Executor) -> None:
    job_id = await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "done"})
    [before] = await settled(app_executor, 1)
    await app_executor.call("jobs:cancel", {"id": job_id})
    assert await app_executor.call("jobs:job", {"id": job_id}) == before


async def test_cancel_rejects_ids_of_other_tables(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "an effect"})
    await settled(app_executor, 1)
    expected = "Invalid scheduled function ID. The ID must be an ID on the '_scheduled_functions' table."
    for not_a_job in ("nonsense", (await app_executor.run("jobs:jobs")).value[0]["_id"][:-1]):
        result = await app_executor.run("jobs:cancel", {"id": not_a_job})
        assert str(result.error) == expected


# --- scheduling from actions --------------------------------------------------------------------
async def test_an_action_schedules_at_once_even_if_it_then_fails(app_executor: Executor) -> None:
    result = await app_executor.run("jobs:schedule_from_action", {"tag": "kept"})
    job_id = result.error.data["scheduled"]  # type: ignore[union-attr]
    await settled(app_executor, 1)
    assert (await app_executor.call("jobs:job", {"id": job_id}))["state"] == {"kind": "success"}
    assert await app_executor.call("jobs:effects") == ["kept"]


async def test_an_action_job_runs_once_and_succeeds(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "acted", "fn": "jobs:act"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "success"}
    assert await app_executor.call("jobs:effects") == ["acted"]


async def test_a_failing_action_job_keeps_its_mutations_and_fails(app_executor: Executor) -> None:
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "partial", "fn": "jobs:act_and_fail"})
    [job] = await settled(app_executor, 1)
    assert job["state"] == {"kind": "failed", "error": 'Uncaught ConvexError: {"code":"nope"}'}
    assert await app_executor.call("jobs:effects") == ["partial"]


async def test_canceling_a_running_action_lets_it_finish_and_cancels_its_children(app_executor: Executor) -> None:
    job_id = await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "-", "fn": "jobs:act_gated"})
    await until(lambda: _has_effect(app_executor, "started"), "the action to start")
    assert (await app_executor.call("jobs:job", {"id": job_id}))["state"] == {"kind": "inProgress"}
    await app_executor.call("jobs:cancel_from_action", {"id": job_id})
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "go"})
    await until(lambda: _has_effect(app_executor, "finished"), "the action to finish")
    jobs = await settled(app_executor, 4)
    states = {job["args"][0]["tag"]: job["state"]["kind"] for job in jobs}
    assert states == {"-": "canceled", "go": "success", "child": "canceled", "nested child": "canceled"}
    assert "child" not in await app_executor.call("jobs:effects")


async def _has_effect(executor: Executor, tag: str) -> bool:
    return tag in await executor.call("jobs:effects")


# --- validation and limits ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"delay": -1.0, "tag": "t"}, "`delayMs` must be non-negative"),
        ({"delay": float("inf"), "tag": "t"}, "`delayMs` must be a finite number"),
        ({"delay": 6 * 366 * 86_400_000.0, "tag": "t"}, "is more than 5 years in the future"),
        (
            {"delay": 0.0, "tag": "t", "fn": "nowhere:fn"},
            "Attempted to schedule function at nonexistent path: nowhere.js",
        ),
        (
            {"delay": 0.0, "tag": "t", "fn": "jobs:missing"},
            (
                "Attempted to schedule function, but no exported function missing found in the file: jobs.js. "
                "Did you forget to export it?"
            ),
        ),
    ],
)
async def test_scheduling_is_validated(app_executor: Executor, args: dict[str, Any], message: str) -> None:
    result = await app_executor.run("jobs:schedule", args)
    assert result.error is not None and message in str(result.error)
    assert await app_executor.call("jobs:jobs") == []


async def test_run_at_rejects_times_too_far_in_the_past(app_executor: Executor) -> None:
    result = await app_executor.run("jobs:schedule_at", {"at": time.time() * 1000 - 6 * 366 * 86_400_000, "tag": "t"})
    assert result.error is not None and "is more than 5 years in the past" in str(result.error)


async def test_a_mutation_schedules_at_most_1000_functions(app_executor: Executor) -> None:
    result = await app_executor.run("jobs:schedule_many", {"count": 1001.0, "spacing": 60_000.0})
    assert str(result.error) == "Too many functions scheduled by this mutation (limit: 1000)"
    assert await app_executor.call("jobs:jobs") == []
    metrics_ok = await app_executor.run("jobs:schedule_many", {"count": 1000.0, "spacing": 60_000.0})
    assert metrics_ok.error is None


async def test_scheduled_arguments_are_limited_per_mutation(
    app_executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "MAX_SCHEDULED_ARGS_SIZE", 1000)
    assert (await app_executor.run("jobs:schedule_sized", {"count": 1.0, "size": 600.0})).error is None
    result = await app_executor.run("jobs:schedule_sized", {"count": 2.0, "size": 600.0})
    assert str(result.error) == (
        "Too large total size of the arguments of scheduled functions from this mutation (limit: 1000 bytes)"
    )


# --- restarts -----------------------------------------------------------------------------------
async def test_pending_jobs_survive_a_restart(open_executor: Callable[..., Executor], tmp_path: Path) -> None:
    first = open_executor(APP, tmp_path / "data")
    await first.call("jobs:schedule", {"delay": 50.0, "tag": "after restart"})
    await first.close()
    second = open_executor(APP, tmp_path / "data")
    await second.start()
    await settled(second, 1)
    assert await second.call("jobs:effects") == ["after restart"]


_CHILD = """
import asyncio, sys
from runtime.functions.executor import Executor

async def main(app, data, mode):
    executor = Executor.open(app, data)
    if mode == "mutations":
        await executor.call("jobs:schedule_many", {"count": 60.0, "spacing": 10.0})
        threshold, tag = 15, None
    else:
        await executor.call("jobs:schedule", {"delay": 0.0, "tag": "started", "fn": "jobs:act_then_hang"})
        threshold, tag = 1, "started"
    while len(await executor.call("jobs:effects")) < threshold:
        await asyncio.sleep(0.005)
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:4]))
"""


async def run_until_killed(data_dir: Path, mode: str, database_url: str | None) -> None:
    """Run the child in its own process until it says it is mid-way, then SIGKILL it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(APP),
        str(data_dir),
        mode,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO), **({DATABASE_URL_VARIABLE: database_url} if database_url else {})},
        cwd=str(REPO),
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), DEADLINE_S)
        assert line == b"ready\n"
    finally:
        process.kill()
        await process.wait()


async def test_scheduled_mutations_run_exactly_once_across_a_kill(
    open_executor: Callable[..., Executor], tmp_path: Path, store_kind: Stores
) -> None:
    await run_until_killed(tmp_path / "data", "mutations", store_kind.url_for(tmp_path / "data"))
    executor = open_executor(APP, tmp_path / "data")
    await executor.start()
    jobs = await settled(executor, 60)
    assert [job["state"] for job in jobs] == [{"kind": "success"}] * 60
    assert Counter(await executor.call("jobs:effects")) == Counter(str(n) for n in range(60))


async def test_an_action_interrupted_by_a_kill_fails_and_never_reruns(
    open_executor: Callable[..., Executor], tmp_path: Path, store_kind: Stores
) -> None:
    await run_until_killed(tmp_path / "data", "action", store_kind.url_for(tmp_path / "data"))
    executor = open_executor(APP, tmp_path / "data")
    await executor.start()
    [job] = await settled(executor, 1)
    assert job["state"] == {"kind": "failed", "error": "Transient error while executing action"}
    # A later job finishing proves the runner had every chance to run the action again.
    await executor.call("jobs:schedule", {"delay": 0.0, "tag": "later"})
    await settled(executor, 2)
    assert await executor.call("jobs:effects") == ["started", "later"]


# --- scheduled mutations defer to queued client mutations -----------------------------------------
async def test_a_due_scheduled_mutation_waits_while_mutations_are_queued(
    app_executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = [1]  # what the writer's queue reports: a client mutation waiting
    monkeypatch.setattr(knobs, "SCHEDULER_YIELD_MAX_S", DEADLINE_S)
    monkeypatch.setattr(app_executor.database, "queued_mutations", lambda: queued[0])
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "background"})
    for _ in range(20):  # the job is due all along, and clients still get through
        await app_executor.call("jobs:jobs")
    assert await app_executor.call("jobs:effects") == []
    queued[0] = 0
    await settled(app_executor, 1)
    assert await app_executor.call("jobs:effects") == ["background"]


async def test_a_scheduled_mutation_waits_for_queued_ones_only_so_long(
    app_executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "SCHEDULER_YIELD_MAX_S", 0.01)
    monkeypatch.setattr(app_executor.database, "queued_mutations", lambda: 1)  # never empty
    await app_executor.call("jobs:schedule", {"delay": 0.0, "tag": "background"})
    await settled(app_executor, 1)
    assert await app_executor.call("jobs:effects") == ["background"]
