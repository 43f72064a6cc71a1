"""Running an app's cron jobs: one row per job in ``_cron_jobs``, one row per run in ``_cron_job_logs``.

A job's row holds its declaration (``function``, ``args``, ``schedule``), ``state`` and ``nextTs``,
the due time of its next tick. The rows are the truth, so ticks survive restarts:

- **Deploying.** ``sync`` makes the rows match the app's ``functions/crons.py``: new jobs get their
  first ``nextTs`` (an interval job is due at once, a clock job at its next match), a job whose
  schedule changed is re-timed from now, a job no longer declared is deleted.
- **Mutations, exactly once per tick.** One transaction re-reads the row, checks it still expects
  this tick (``pending``, same ``nextTs``), runs the mutation, logs the run and moves ``nextTs``
  on: the tick and the mutation's writes commit together or not at all. If the mutation throws,
  its writes are discarded and a second transaction logs the error and moves ``nextTs`` on — a
  failing job never blocks its next tick.
- **Actions, at most once per tick.** A transaction marks the row ``inProgress``; the action runs
  in the background (a slow action delays no other job); its outcome is logged and ``nextTs``
  moved on. A row found ``inProgress`` at start was
  interrupted: its tick is logged as ``Transient error while executing action`` and skipped.
- A job due several times over (the server was down) runs once; the missed interval ticks are
  logged as one ``canceled`` entry, as Convex does. Crons run with no identity.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.clock import now_ms
from runtime.database.transaction import Transaction
from runtime.functions import logs
from runtime.functions.crons import CronJob
from runtime.functions.runner_host import RunnerHost
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.store.sqlite import decode_document
from runtime.values.errors import error_message
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.functions.app_loader import App

CRON_JOBS = "_cron_jobs"
CRON_JOB_LOGS = "_cron_job_logs"
PENDING, IN_PROGRESS = "pending", "inProgress"
INTERRUPTED_ACTION = "Transient error while executing action"
_log = logging.getLogger("opencom.crons")


class _UserFailure(Exception):
    """The cron's mutation threw: its transaction is discarded and the error logged by a new one."""


def declared_jobs(app: App) -> dict[str, dict[str, Value]]:
    """The rows the app's ``functions/crons.py`` declares, by job name (without state or times)."""
    if app.crons is None:
        return {}
    return {
        name: {"name": name, "function": job.target(app.functions), "args": job.args, "schedule": job.schedule}
        for name, job in app.crons.jobs.items()
    }


def _as_job(row: dict[str, Value]) -> CronJob:
    schedule, args = row["schedule"], row["args"]
    assert isinstance(schedule, dict) and isinstance(args, dict)
    return CronJob(str(row["name"]), schedule, str(row["function"]), args)


class CronRunner:
    """Keeps ``_cron_jobs`` in step with the app and runs each due tick (see the module docstring)."""

    def __init__(self, executor: RunnerHost) -> None:
        self._executor = executor
        self._database = executor.database
        self._table_number = SYSTEM_TABLE_NUMBERS[CRON_JOBS]
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        # Action ticks running in the background, by job name: a slow action never delays other jobs.
        self._actions: dict[str, asyncio.Task[None]] = {}

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Sync the jobs and start ticking them (idempotent)."""
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(
                self._run(), name="opencom-crons", context=contextvars.Context()
            )

    async def stop(self) -> None:
        """Stop ticking; a running action is interrupted (its tick is logged as failed at the next start)."""
        tasks = [task for task in (self._loop_task, *self._actions.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._actions.clear()

    def app_changed(self) -> None:
        """The app was reloaded: re-sync the jobs before the next tick."""
        self._wake.set()

    async def _run(self) -> None:
        attempts, recovered = 0, False
        while True:
            try:
                await self.sync()
                if not recovered:
                    await self.recover()
                    recovered = True
                attempts = 0
                self._wake.clear()
                await self.run_due(wait=False)
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a system failure: the rows are as they were, so retry
                _log.exception("cron jobs hit a system error; retrying")
                attempts += 1
                await asyncio.sleep(
                    min(knobs.SCHEDULER_RETRY_INITIAL_S * 2 ** min(attempts, 20), knobs.SCHEDULER_RETRY_MAX_S)
                )

    async def _sleep(self) -> None:
        due = self.next_due()
        timeout = knobs.SCHEDULER_GC_INTERVAL_S if due is None else max(0.0, (due - now_ms()) / 1000.0)
        try:
            async with asyncio.timeout(min(timeout, knobs.SCHEDULER_GC_INTERVAL_S)):
                await self._wake.wait()
        except TimeoutError:
            pass

    # --- the table --------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Value]]:
        """Every ``_cron_jobs`` row, from one snapshot."""
        with self._database.snapshot() as ts:
            rows = self._database.read_transaction(ts).rows
            return [decode_document(body) for body in rows.table_documents(self._table_number)]

    def next_due(self) -> float | None:
        """The earliest ``nextTs`` of a pending job, if any."""
        return min((_next_ts(row) for row in self._pending()), default=None)

    def _pending(self) -> list[dict[str, Value]]:
        """Pending rows whose action tick is not already being started in the background."""
        return [row for row in self.rows() if _state(row) == PENDING and str(row["name"]) not in self._actions]

    async def sync(self) -> None:
        """Make ``_cron_jobs`` match the app's declared jobs (one transaction)."""
        declared = declared_jobs(self._executor.app)

        def body(transaction: Transaction) -> None:
            now = now_ms()
            existing = {str(row["name"]): row for row in self._table(transaction, CRON_JOBS)}
            for name, stale in existing.items():
                if name not in declared:
                    transaction.delete(str(stale["_id"]), system=True)
            for name, wanted in declared.items():
                row = existing.get(name)
                if row is None:
                    next_ts = _as_job(wanted).next_run(None, now)
                    transaction.insert(
                        CRON_JOBS, {**wanted, "state": {"kind": PENDING}, "nextTs": next_ts}, system=True
                    )
                elif any(row[key] != wanted[key] for key in ("function", "args", "schedule")):
                    patch: dict[str, Value] = dict(wanted)
                    if row["schedule"] != wanted["schedule"]:
                        patch["nextTs"] = _as_job(wanted).next_run(None, now)
                    transaction.patch(str(row["_id"]), patch, system=True)

        await self._database.mutate(body)

    async def recover(self) -> None:
        """Log and skip every action tick a crash or shutdown interrupted."""
        for row in self.rows():
            if _state(row) == IN_PROGRESS:
                await self._record(row, {"type": "err", "error": INTERRUPTED_ACTION}, [], 0.0, IN_PROGRESS)

    async def run_due(self, *, wait: bool = True) -> int:
        """Run every job whose tick is due now; returns how many started.

        Mutations run one after another; actions start in the background. ``wait`` also waits
        for those actions (a test clock does; the server loop does not).
        """
        now = now_ms()
        due = sorted(
            (row for row in self._pending() if _next_ts(row) <= now),
            key=lambda row: (_next_ts(row), row["_creationTime"]),  # ties: in declaration order
        )
        for row in due:
            function = self._executor.app.functions.get(str(row["function"]))
            if function is None:  # the app changed under a row not yet re-synced: the next sync fixes it
                continue
            if function.kind == "mutation":
                await self._run_mutation(row, function)
            else:
                self._start_action(row, function)
        if wait:
            await asyncio.gather(*self._actions.values())
        return len(due)

    def _start_action(self, row: dict[str, Value], function: Any) -> None:
        name = str(row["name"])

        async def tick() -> None:
            try:
                await self._run_action(row, function)
            except Exception:  # noqa: BLE001 - a system failure: the row says what happened, and the loop goes on
                _log.exception("cron job %r hit a system error", name)
            finally:
                self._actions.pop(name, None)
                self._wake.set()

        self._actions[name] = asyncio.get_running_loop().create_task(tick(), name=f"opencom-cron-{name}")

    # --- one tick ---------------------------------------------------------------------------
    async def _run_mutation(self, row: dict[str, Value], function: Any) -> None:
        buffers = [logs.LogBuffer()]  # the last attempt's (see Executor.mutate_within_budget)
        started = time.monotonic()

        def attempt(transaction: Transaction, budget: float | None) -> None:
            buffers[:] = [logs.LogBuffer()]
            buffer = buffers[0]
            current = transaction.get(str(row["_id"]), system=True)
            if not _same_tick(current, row, PENDING):
                return
            try:
                with logs.capture(buffer):
                    result = self._executor.run_in_transaction(function, row["args"], transaction, budget)
            except sqlite3.Error:
                raise  # the store failed, not the job: the tick stays due and is retried
            except Exception as error:  # the job's own failure
                raise _UserFailure(error_message(error)) from error
            finally:
                transaction.close_scans()
            assert current is not None
            self._finish_tick(transaction, current, {"type": "success", "result": result}, list(buffer.lines), started)

        try:
            await self._executor.mutate_within_budget(attempt, function=function)
        except _UserFailure as failure:
            _log.warning("cron job %r (%s) failed: %s", row["name"], row["function"], failure)
            await self._record(row, {"type": "err", "error": str(failure)}, list(buffers[0].lines), started, PENDING)
        finally:
            _emit(row, buffers[0].finish())

    async def _run_action(self, row: dict[str, Value], function: Any) -> None:
        started = time.monotonic()

        def claim(transaction: Transaction) -> bool:
            current = transaction.get(str(row["_id"]), system=True)
            if not _same_tick(current, row, PENDING):
                return False
            transaction.patch(str(row["_id"]), {"state": {"kind": IN_PROGRESS}}, system=True)
            return True

        if not (await self._database.mutate(claim)).value:
            return
        result = await self._executor.run_function(function, row["args"])
        _emit(row, result.log_lines)
        status: dict[str, Value] = {"type": "success", "result": result.value}
        if result.error is not None:
            _log.warning("cron job %r (%s) failed: %s", row["name"], row["function"], error_message(result.error))
            status = {"type": "err", "error": error_message(result.error)}
        await self._record(row, status, result.log_lines, started, IN_PROGRESS)

    async def _record(
        self, row: dict[str, Value], status: dict[str, Value], lines: list[str], started: float, expected: str
    ) -> None:
        """Log a tick that did not commit with its function, and move on, if the row still expects it."""

        def body(transaction: Transaction) -> None:
            current = transaction.get(str(row["_id"]), system=True)
            if _same_tick(current, row, expected):
                assert current is not None
                self._finish_tick(transaction, current, status, lines, started)

        await self._database.mutate(body)

    def _finish_tick(
        self,
        transaction: Transaction,
        row: dict[str, Value],
        status: dict[str, Value],
        lines: list[str],
        started: float,
    ) -> None:
        now = now_ms()
        previous = _next_ts(row)
        job = _as_job(row)
        self._log_run(transaction, row, previous, status, lines, time.monotonic() - started)
        following, skipped = job.next_run(previous, now), 0
        while following < now:
            skipped += 1
            following = job.next_run(following, now)
        if skipped:
            self._log_run(
                transaction,
                row,
                job.next_run(previous, now),
                {"type": "canceled", "numCanceled": float(skipped)},
                [],
                0.0,
            )
        patch: dict[str, Value] = {"state": {"kind": PENDING}, "prevTs": previous, "nextTs": following}
        transaction.patch(str(row["_id"]), patch, system=True)

    def _log_run(
        self,
        transaction: Transaction,
        row: dict[str, Value],
        ts: float,
        status: dict[str, Value],
        lines: list[str],
        seconds: float,
    ) -> None:
        """Append one ``_cron_job_logs`` entry, keeping the newest ``knobs.CRON_JOB_LOGS_KEPT`` per job."""
        mine = sorted(
            (log for log in self._table(transaction, CRON_JOB_LOGS) if log["name"] == row["name"]),
            key=lambda log: float(log["_creationTime"]),
        )
        for old in mine[: max(0, len(mine) - knobs.CRON_JOB_LOGS_KEPT + 1)]:
            transaction.delete(str(old["_id"]), system=True)
        entry: dict[str, Value] = {
            "name": row["name"],
            "function": row["function"],
            "args": row["args"],
            "ts": ts,
            "status": status,
            "logLines": list(lines),
            "executionTime": seconds,
        }
        transaction.insert(CRON_JOB_LOGS, entry, system=True)

    def _table(self, transaction: Transaction, table: str) -> list[dict[str, Value]]:
        number = SYSTEM_TABLE_NUMBERS[table]
        return [decode_document(body) for body in transaction.rows.table_documents(number)]


def _state(row: dict[str, Value]) -> str:
    state = row["state"]
    assert isinstance(state, dict)
    return str(state["kind"])


def _next_ts(row: dict[str, Value]) -> float:
    next_ts = row["nextTs"]
    assert isinstance(next_ts, float)
    return next_ts


def _same_tick(current: dict[str, Value] | None, seen: dict[str, Value], state: str) -> bool:
    """The row still awaits the tick ``seen`` was read for (not run meanwhile, not re-timed, not deleted)."""
    return current is not None and _state(current) == state and current["nextTs"] == seen["nextTs"]


def _emit(row: dict[str, Value], lines: list[str]) -> None:
    """Cron runs have no caller to return log lines to: they go to the process log."""
    for line in lines:
        _log.info("%s %s", row["function"], line)
