"""Cron jobs (``functions/crons.py``): Convex's schedule shapes and messages, ticks that survive a
restart and run once, and a failing job that is logged while its next tick still runs.

The fixture app ``tests/apps/crons`` leaves a ``ticks`` row per run. Tests that move time install a
``ManualClock`` and drive ``Executor.cron_runner`` themselves; one test lets the server's own loop
tick on the real clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime import clock, cron_jobs
from runtime.functions.app_loader import load_app
from runtime.functions.cron_schedule import CronExpressionError, parse_cron
from runtime.functions.crons import CronJob
from runtime.functions.executor import Executor
from runtime.store.sqlite import decode_document
from runtime.values.errors import ConvexValueError
from tests.cli_harness import opencom

APP = Path(__file__).parent / "apps" / "crons"
HOUR_MS = 3_600_000.0
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp() * 1000  # a Monday, noon UTC


def cron_rows(executor: Executor, table: str) -> list[dict[str, Any]]:
    """The rows of a cron system table; functions may not read them (``ctx.db.system`` refuses)."""
    number = executor.database.catalog.table_numbers[table]
    with executor.database.snapshot() as ts:
        rows = executor.database.read_transaction(ts).rows
        documents = [decode_document(body) for body in rows.table_documents(number)]
    return sorted(documents, key=lambda document: document["_creationTime"])


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000


@pytest.fixture
def manual_clock() -> Iterator[clock.ManualClock]:
    manual = clock.ManualClock(START)
    previous = clock.install(manual)
    yield manual
    clock.install(previous)


def quiet(executor: Executor) -> Executor:
    """An executor whose background loops stay off: the test runs ticks itself."""
    executor.run_scheduled_jobs = False
    return executor


# --- declaring jobs (Convex's messages) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda c: c.interval("a", {}, "m:f"), "Must specify one of seconds, minutes, or hours"),
        (
            lambda c: c.interval("a", {"seconds": 1, "hours": 1}, "m:f"),
            "Must specify one of seconds, minutes, or hours",
        ),
        (lambda c: c.interval("a", {"minutes": 0}, "m:f"), "Interval must be an integer greater than 0"),
        (lambda c: c.interval("a", {"seconds": 1.5}, "m:f"), "Interval must be an integer greater than 0"),
        (lambda c: c.hourly("a", {"minuteUTC": 60}, "m:f"), "Minute of hour must be an integer from 0 to 59"),
        (lambda c: c.daily("a", {"hourUTC": 24}, "m:f"), "Hour of day must be an integer from 0 to 23"),
        (
            lambda c: c.weekly("a", {"dayOfWeek": "Monday", "hourUTC": 1}, "m:f"),
            'Day of week must be a string like "monday".',
        ),
        (lambda c: c.monthly("a", {"day": 0, "hourUTC": 1}, "m:f"), "Day of month must be an integer from 1 to 31"),
        (
            lambda c: c.interval("bad\nname", {"seconds": 1}, "m:f"),
            "Invalid cron identifier bad\nname: use ASCII letters that are not control characters",
        ),
    ],
)
def test_bad_declarations_fail_with_convex_messages(declare: Callable[..., None], message: str) -> None:
    with pytest.raises(ConvexValueError) as raised:
        declare(cron_jobs())
    assert str(raised.value) == message


def test_a_name_registered_twice_is_refused() -> None:
    crons = cron_jobs()
    crons.hourly("sweep", "m:f")
    with pytest.raises(ConvexValueError, match="^Cron identifier registered twice: sweep$"):
        crons.daily("sweep", {"hourUTC": 1}, "m:f")


def test_cron_expressions_parse_or_say_why_not() -> None:
    with pytest.raises(CronExpressionError, match="expected 5 fields"):
        parse_cron("* * * *")
    with pytest.raises(CronExpressionError, match="outside 0-59"):
        parse_cron("61 * * * *")
    with pytest.raises(CronExpressionError, match=r"^The cron spec '0 0 30 2 \*' will never match any time$"):
        parse_cron("0 0 30 2 *")


# --- when ticks fall ----------------------------------------------------------------------------
def next_after(schedule_call: Callable[..., None], now: float) -> float:
    crons = cron_jobs()
    schedule_call(crons)
    [job] = crons.jobs.values()
    return job.next_run(None, now)


def test_each_schedule_shape_names_its_next_tick() -> None:
    now = at("2026-03-02T12:00:30")  # Monday
    assert next_after(lambda c: c.interval("i", {"minutes": 5}, "m:f"), now) == now  # at once, then every 5 min
    assert next_after(lambda c: c.hourly("h", {"minuteUTC": 10}, "m:f"), now) == at("2026-03-02T12:10")
    assert next_after(lambda c: c.daily("d", {"hourUTC": 9, "minuteUTC": 0}, "m:f"), now) == at("2026-03-03T09:00")
    weekly = {"dayOfWeek": "sunday", "hourUTC": 8, "minuteUTC": 30}
    assert next_after(lambda c: c.weekly("w", weekly, "m:f"), now) == at("2026-03-08T08:30")
    assert next_after(lambda c: c.monthly("m", {"day": 31, "hourUTC": 0, "minuteUTC": 0}, "m:f"), now) == at(
        "2026-03-31T00:00"
    )
    assert next_after(lambda c: c.cron("c", "15 7 * * 1-5", "m:f"), at("2026-03-06T08:00")) == at("2026-03-09T07:15")
    # Both day fields restricted: either matches (the 1st of the month, or any Friday).
    assert next_after(lambda c: c.cron("c", "0 0 1 * fri", "m:f"), now) == at("2026-03-06T00:00")
    job = CronJob("i", {"type": "interval", "seconds": 30.0}, "m:f", {})
    assert job.next_run(now, now + 1) == now + 30_000


def test_an_omitted_minute_is_stable_per_job_name() -> None:
    first = next_after(lambda c: c.hourly("spread", "m:f"), START)
    assert first == next_after(lambda c: c.hourly("spread", "m:f"), START)
    assert START < first <= START + HOUR_MS


# --- running ------------------------------------------------------------------------------------
async def test_a_tick_survives_a_restart_and_runs_once(tmp_path: Path, manual_clock: clock.ManualClock) -> None:
    data = tmp_path / "data"
    first = quiet(Executor.open(APP, data))
    await first.start()
    await first.cron_runner.sync()
    assert await first.cron_runner.run_due() == 3  # interval jobs are due as soon as they are deployed
    jobs = {job["name"]: job for job in cron_rows(first, "_cron_jobs")}
    assert jobs["record hourly"]["nextTs"] == START + HOUR_MS
    assert jobs["ping daily"]["nextTs"] == at("2026-03-03T03:15")
    await first.close()

    manual_clock.advance(HOUR_MS)  # the hourly tick falls due while the server is down
    for _ in range(2):  # two restarts at the same instant: the tick runs on the first only
        restarted = quiet(Executor.open(APP, data))
        await restarted.start()
        await restarted.cron_runner.sync()
        await restarted.cron_runner.run_due()
        tags = await restarted.call("ticks:tags")
        await restarted.close()
    assert tags.count("hourly") == 2  # the deploy tick and the missed one, each once


async def test_missed_ticks_run_once_and_are_logged_as_canceled(
    open_executor: Callable[..., Executor], manual_clock: clock.ManualClock
) -> None:
    executor = quiet(open_executor(APP))
    await executor.cron_runner.sync()
    await executor.cron_runner.run_due()
    manual_clock.advance(3.5 * HOUR_MS)
    await executor.cron_runner.run_due()
    assert (await executor.call("ticks:tags")).count("hourly") == 2
    [job] = [job for job in cron_rows(executor, "_cron_jobs") if job["name"] == "record hourly"]
    assert job["nextTs"] == START + 4 * HOUR_MS
    statuses = [log["status"] for log in cron_rows(executor, "_cron_job_logs") if log["name"] == "record hourly"]
    assert {"type": "canceled", "numCanceled": 2.0} in statuses


async def test_a_failing_cron_is_logged_and_its_next_tick_still_runs(
    open_executor: Callable[..., Executor], manual_clock: clock.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor = quiet(open_executor(APP))
    await executor.call("ticks:set_failing", {"failing": True}, admin=True)
    await executor.cron_runner.sync()
    with caplog.at_level(logging.WARNING, logger="opencom.crons"):
        await executor.cron_runner.run_due()
    assert "cron job 'flaky' (ticks:flaky) failed: Uncaught Error: the flaky cron failed" in caplog.text
    assert "never-committed" not in await executor.call("ticks:tags")
    [failed] = [log for log in cron_rows(executor, "_cron_job_logs") if log["name"] == "flaky"]
    assert failed["status"] == {"type": "err", "error": "Uncaught Error: the flaky cron failed"}

    await executor.call("ticks:set_failing", {"failing": False}, admin=True)
    manual_clock.advance(30 * 60_000.0)
    await executor.cron_runner.run_due()
    assert "flaky" in await executor.call("ticks:tags")
    logs = [log["status"]["type"] for log in cron_rows(executor, "_cron_job_logs") if log["name"] == "flaky"]
    assert logs == ["err", "success"]


async def test_an_action_cron_runs_and_an_interrupted_one_is_failed_not_rerun(
    open_executor: Callable[..., Executor], manual_clock: clock.ManualClock
) -> None:
    executor = quiet(open_executor(APP))
    await executor.cron_runner.sync()
    await executor.cron_runner.run_due()
    manual_clock.advance(at("2026-03-03T03:15") - START)
    await executor.cron_runner.run_due()
    assert "from-action" in await executor.call("ticks:tags")
    [ran] = [log for log in cron_rows(executor, "_cron_job_logs") if log["name"] == "ping daily"]
    assert ran["status"] == {"type": "success", "result": "pong"}

    def interrupt(transaction):  # what a crash in the middle of the next tick leaves behind
        [row] = [job for job in executor.cron_runner.rows() if job["name"] == "ping daily"]
        transaction.patch(row["_id"], {"state": {"kind": "inProgress"}}, system=True)

    await executor.database.mutate(interrupt)
    await executor.cron_runner.recover()
    statuses = [log["status"] for log in cron_rows(executor, "_cron_job_logs") if log["name"] == "ping daily"]
    assert statuses[-1] == {"type": "err", "error": "Transient error while executing action"}
    [row] = [job for job in executor.cron_runner.rows() if job["name"] == "ping daily"]
    assert row["state"] == {"kind": "pending"} and row["nextTs"] == at("2026-03-04T03:15")


async def test_removed_jobs_are_deleted_and_changed_schedules_re_timed(
    open_executor: Callable[..., Executor], manual_clock: clock.ManualClock
) -> None:
    executor = quiet(open_executor(APP))
    await executor.cron_runner.sync()
    crons = cron_jobs()
    crons.daily("record hourly", {"hourUTC": 23, "minuteUTC": 0}, "ticks:record", {"tag": "nightly"})
    executor.app.crons = crons
    await executor.cron_runner.sync()
    [row] = cron_rows(executor, "_cron_jobs")
    assert row["name"] == "record hourly" and row["args"] == {"tag": "nightly"}
    assert row["nextTs"] == at("2026-03-02T23:00")


async def test_the_server_loop_ticks_on_the_real_clock(open_executor: Callable[..., Executor]) -> None:
    executor = open_executor(APP)
    await executor.start()  # interval jobs are due at once
    deadline = time.monotonic() + 30.0
    while "saw hourly" not in await executor.call("ticks:tags"):
        assert time.monotonic() < deadline, "the cron loop never ran the due ticks"
        await asyncio.sleep(0.02)
    # The action tick started first and waited for the mutation tick: actions run in the background.
    assert "gave up" not in await executor.call("ticks:tags")


# --- the command line ---------------------------------------------------------------------------
async def test_crons_are_listed_by_the_cli_and_the_function_spec(
    tmp_path: Path, manual_clock: clock.ManualClock
) -> None:
    data = tmp_path / "data"
    executor = quiet(Executor.open(APP, data))
    await executor.cron_runner.sync()
    await executor.cron_runner.run_due()
    await executor.close()

    listed = opencom("crons", "--app", APP, "--data", data, "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert by_name["record hourly"]["schedule"] == {"type": "interval", "hours": 1}
    assert by_name["record hourly"]["function"] == "ticks:record"
    assert by_name["record hourly"]["nextTs"] == START + HOUR_MS
    assert by_name["record hourly"]["lastRun"]["status"]["type"] == "success"
    assert "lastRun" not in by_name["ping daily"]
    lines = opencom("crons", "--app", APP, "--data", data).stdout.splitlines()
    assert "ping daily: daily hourUTC=3 minuteUTC=15 -> ticks:ping, next 2026-03-03 03:15:00 UTC" in lines

    spec = json.loads(opencom("function-spec", "--app", APP).stdout)
    assert sorted(entry["name"] for entry in spec["crons"]) == [
        "flaky",
        "ping daily",
        "record hourly",
        "waits for the hourly tick",
    ]


def test_an_app_whose_cron_names_a_query_fails_to_load(tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "things.py").write_text(
        "from runtime import query\n\n@query\nasync def count(ctx, args):\n    return 0\n"
    )
    (functions / "crons.py").write_text(
        "from runtime import cron_jobs\n\ncrons = cron_jobs()\ncrons.hourly('count', 'things:count')\n"
    )
    with pytest.raises(ConvexValueError, match="^Cron job count: things:count is a query; only mutations and actions"):
        load_app(tmp_path)
    (functions / "crons.py").write_text(
        "from runtime import cron_jobs\n\ncrons = cron_jobs()\ncrons.hourly('x', 'things:nope')\n"
    )
    with pytest.raises(ConvexValueError, match="^Cron job x: no function at things:nope$"):
        load_app(tmp_path)
