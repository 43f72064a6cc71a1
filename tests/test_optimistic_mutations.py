"""Mutations too long for the writer run beside it and commit only if nothing they read changed.

A mutation past the loop's CPU budget runs again on a worker at a snapshot, its writes buffered
(``runtime.database.optimistic``). These tests check that it does what the writer would have done, that a
commit changing what it read makes it run again (the final state is a serial one), that it fails
with Convex's OCC error when that keeps happening, and that what the buffer cannot do goes back to
the writer. The slow increment reports when it has read its counter and waits for the test
(``occ.READ_DONE``/``occ.PROCEED``), so the races are forced, not hoped for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.values.errors import OptimisticConcurrencyControlFailure
from tests.store_fixtures import BOTH_STORES

pytestmark = BOTH_STORES

APP = Path(__file__).parent / "apps" / "optimistic"
SLOW_MS = 60.0  # CPU a slow mutation computes first: well past the budget set below


@pytest.fixture
def executor(open_executor: Callable[..., Executor], monkeypatch: pytest.MonkeyPatch) -> Executor:
    monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 0.01)
    opened = open_executor(APP)
    opened.run_scheduled_jobs = False
    return opened


def worker_runs(executor: Executor) -> list[str]:
    """The name of each function the executor hands to a worker thread, in order."""
    handed: list[str] = []
    run = executor.workers.run

    async def counted(function: Callable[..., Any], *args: Any) -> Any:
        handed.append(getattr(function, "__name__", type(function).__name__))
        return await run(function, *args)

    executor.workers.run = counted  # type: ignore[method-assign]
    return handed


def gate(executor: Executor) -> tuple[threading.Event, threading.Event]:
    """The slow increment's events, cleared: (it has read its counter, it may write)."""
    handler_globals = executor.app.lookup("occ:slow_increment").handler.__globals__
    read_done, proceed = handler_globals["READ_DONE"], handler_globals["PROCEED"]
    read_done.clear()
    proceed.clear()
    return read_done, proceed


async def commit_while_it_waits(executor: Executor, counter: str, read_done: threading.Event, proceed: threading.Event) -> int:
    """Once the slow increment has read the counter, commit a short increment, then let it go on."""
    assert await asyncio.to_thread(read_done.wait, 10)
    read_done.clear()
    seen = await executor.call("occ:increment", {"id": counter})
    proceed.set()
    return seen


async def let_it_go(read_done: threading.Event, proceed: threading.Event) -> None:
    """Once the slow increment has read the counter, let it go on at once."""
    assert await asyncio.to_thread(read_done.wait, 10)
    read_done.clear()
    proceed.set()


async def test_a_mutation_moved_off_the_writer_does_what_the_writer_would(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed = worker_runs(executor)
    moved = await executor.call("occ:shuffle", {"ms": SLOW_MS, "group": "g"})
    assert handed == ["_run_buffered"]
    monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 10.0)
    monkeypatch.setattr(knobs, "WRITER_HOLD_S", 10.0)  # its last run was long: it would start beside the writer
    on_writer = await executor.call("occ:shuffle", {"ms": SLOW_MS, "group": "h"})
    assert handed == ["_run_buffered"]
    assert moved == on_writer
    assert moved["ascending"] == [[0.0, "t0"], [2.0, "changed"], [4.0, "t4"], [5.0, "t5"], [10.0, "t1"]]
    assert moved["by_creation"] == [0.0, 10.0, 2.0, 4.0, 5.0] and moved["deleted"] is None
    assert moved["nested"] == "undone" and moved["top_two"] == [[10.0, "t1"], [5.0, "t5"]]
    # What it wrote is stored as the writer would have stored it, search index included.
    assert await executor.call("occ:group", {"group": "g"}) == ["t0", "changed", "t4", "t5", "t1"]
    assert await executor.call("occ:search", {"word": "changed"}) == ["changed", "changed"]


async def test_a_mutation_long_last_time_starts_beside_the_writer_until_it_is_short_again(executor: Executor) -> None:
    runs = executor.app.lookup("occ:counted").handler.__globals__["RUNS"]
    runs.clear()
    handed = worker_runs(executor)
    for label, ms in (("long", SLOW_MS), ("long again", SLOW_MS), ("short", 0.0), ("short again", 0.0)):
        await executor.call("occ:counted", {"ms": ms, "label": label})
    # The first run spent the budget on the writer and ran again; the second started beside the
    # writer (knobs.WRITER_HOLD_S); so did the third, which took little, so the fourth ran on the writer.
    assert runs == ["long", "long", "long again", "short", "short again"]
    assert handed == ["_run_buffered", "_run_buffered", "_run_buffered"]
    assert await executor.call("occ:group", {"group": "counted"}) == ["long", "long again", "short", "short again"]


async def test_a_commit_changing_what_it_read_makes_it_run_again(executor: Executor) -> None:
    counter = await executor.call("occ:create", {"value": 0})
    read_done, proceed = gate(executor)
    handed = worker_runs(executor)
    slow = asyncio.create_task(executor.run("occ:slow_increment", {"id": counter, "ms": SLOW_MS, "gate": True}))
    assert await commit_while_it_waits(executor, counter, read_done, proceed) == 0
    await let_it_go(read_done, proceed)
    result = await slow
    # Its first run read 0 and would have written 1 over the short increment's 1: a lost update.
    # It ran again instead, saw 1 and wrote 2, so the history is "short, then slow".
    assert result.ok, result.error
    assert result.value == 1
    assert await executor.call("occ:value", {"id": counter}) == 2
    assert handed == ["_run_buffered", "_run_buffered"]


async def test_a_mutation_whose_reads_keep_changing_fails_with_the_occ_error(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "MUTATION_OCC_RETRIES", 1)
    counter = await executor.call("occ:create", {"value": 0})
    read_done, proceed = gate(executor)
    slow = asyncio.create_task(executor.run("occ:slow_increment", {"id": counter, "ms": SLOW_MS, "gate": True}))
    for expected in range(2):
        assert await commit_while_it_waits(executor, counter, read_done, proceed) == expected
    result = await slow
    assert isinstance(result.error, OptimisticConcurrencyControlFailure)
    assert str(result.error).startswith(
        'Documents read from or written to the "counters" table changed while this mutation was being run and on '
        "every subsequent retry."
    )
    assert str(result.error).endswith("See https://docs.convex.dev/error#1")
    # Only the two short increments committed.
    assert await executor.call("occ:value", {"id": counter}) == 2


async def test_a_write_elsewhere_does_not_conflict(executor: Executor) -> None:
    counter = await executor.call("occ:create", {"value": 5})
    other = await executor.call("occ:create", {"value": 0})
    read_done, proceed = gate(executor)
    handed = worker_runs(executor)
    slow = asyncio.create_task(executor.run("occ:slow_increment", {"id": counter, "ms": SLOW_MS, "gate": True}))
    assert await commit_while_it_waits(executor, other, read_done, proceed) == 0
    result = await slow
    assert result.value == 5 and handed == ["_run_buffered"]
    assert await executor.call("occ:value", {"id": counter}) == 6


async def test_a_scheduled_mutation_runs_beside_the_writer_too(
    open_executor: Callable[..., Executor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 0.01)
    executor = open_executor(APP)  # running scheduled jobs
    counter = await executor.call("occ:create", {"value": 0})
    read_done, proceed = gate(executor)
    job = await executor.call("occ:schedule_slow_increment", {"id": counter, "ms": SLOW_MS})
    # Were it on the writer, the short increment would wait behind it and see 1.
    assert await commit_while_it_waits(executor, counter, read_done, proceed) == 0
    await let_it_go(read_done, proceed)
    for _ in range(200):
        if await executor.call("occ:job_state", {"job": job}) == "success":
            break
        await asyncio.sleep(0.05)
    assert await executor.call("occ:job_state", {"job": job}) == "success"
    assert await executor.call("occ:value", {"id": counter}) == 2


async def test_what_only_the_writer_can_do_runs_on_the_writer(executor: Executor) -> None:
    handed = worker_runs(executor)
    # Creating a table and searching its own writes: the buffer gives up, the writer runs it.
    assert await executor.call("occ:slow_new_table", {"ms": SLOW_MS}) == 1
    assert await executor.call("occ:slow_search_own_write", {"ms": SLOW_MS, "word": "needle"}) == ["needle"]
    assert handed == ["_run_buffered", "partial", "_run_buffered", "partial"]
