"""Running scheduled functions when they are due: mutations exactly once, actions at most once.

The rows of ``_scheduled_functions`` are the truth; the runner only keeps a heap of the pending
ones by due time, fed by every commit that leaves a job pending and, at start, by one pass over
the table. A job's row is re-read in the transaction that runs it, so a stale heap entry (a job
canceled meanwhile, or seen twice) costs a read and nothing else.

- **Mutations, exactly once.** One writer transaction re-reads the job, marks it ``inProgress``
  (only the mutation itself can see that), runs the user mutation and marks the job ``success``:
  the mutation's writes and the job's transition commit together or not at all. If the user
  code throws, that transaction is discarded and ``failed`` is recorded by a new one that first
  checks the job is still pending. A crash before the commit leaves the job pending, so it runs
  after the restart; a crash after it leaves it finished, so it never runs again.
- **Actions, at most once.** A transaction marks the job ``inProgress`` and commits; then the
  action runs; then ``success``/``failed`` is recorded (retried until it sticks), unless the job
  was canceled meanwhile. A job found ``inProgress`` at start was interrupted by a crash or a
  shutdown and becomes ``failed`` with ``Transient error while executing action``, never re-run.
- Scheduled functions run with no identity, at most ``knobs.SCHEDULER_PARALLELISM`` at a time,
  started in due-time order. A system failure (SQLite, the disk) leaves the job's row as it was
  and the job is tried again after an exponential backoff.
- Completed jobs are deleted ``knobs.SCHEDULED_JOB_RETENTION_S`` after they finished.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from runtime import knobs
from runtime.clock import now_ms
from runtime.database.read_set import Commit
from runtime.database.transaction import Transaction
from runtime.functions import logs
from runtime.functions.definitions import FunctionDefinition
from runtime.functions.paths import canonical_path
from runtime.functions.runner_host import RunnerHost
from runtime.functions.scheduler import (
    CANCELED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    SCHEDULED_FUNCTIONS,
    SUCCESS,
    RunningJob,
    finish,
    job_state,
    running_job,
)
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.store.sqlite import decode_document
from runtime.values.errors import error_message
from runtime.values.values import Value

INTERRUPTED_ACTION = "Transient error while executing action"
_YIELD_POLL_S = 0.0005  # how often a scheduled mutation deferring to queued ones looks again
_log = logging.getLogger("opencom.scheduler")


class _UserFailure(Exception):
    """A scheduled mutation threw: its transaction is discarded and ``failed`` recorded in a new one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Unrunnable(Exception):
    """The job's target no longer exists, or is not a mutation or an action."""


class JobRunner:
    """Runs the due jobs of one executor's ``_scheduled_functions`` table (see the module docstring)."""

    def __init__(self, executor: RunnerHost) -> None:
        self._executor = executor
        self._database = executor.database
        self._table_number = SYSTEM_TABLE_NUMBERS[SCHEDULED_FUNCTIONS]
        # Pending jobs as (due ms, _creationTime, id): a min-heap, possibly holding stale entries.
        self._due: list[tuple[float, float, str]] = []
        # Ids in ``_due`` or being executed: each job is queued at most once however often it is seen.
        self._queued: set[str] = set()
        # System-error retries so far, per job, for the backoff.
        self._attempts: dict[str, int] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._turn = asyncio.Lock()  # first come, first served: see _mutate_in_turn
        self._loop_task: asyncio.Task[None] | None = None
        self._next_collection = 0.0
        self._database.add_commit_listener(self._on_commits)

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover interrupted jobs and start running due ones (idempotent)."""
        if self._loop_task is None:
            # A fresh context: the loop must not inherit the log capture or job of whoever started it.
            self._loop_task = asyncio.get_running_loop().create_task(
                self._run(), name="opencom-scheduler", context=contextvars.Context()
            )

    async def stop(self) -> None:
        """Stop the loop and every running job; an interrupted action fails at the next start."""
        tasks = [task for task in (self._loop_task, *self._running) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._running.clear()
        self._due.clear()
        self._queued.clear()
        self._attempts.clear()

    # --- driven from outside (a test harness's clock) ----------------------------------------
    def pending_jobs(self) -> list[dict[str, Value]]:
        """Every pending job, in the order they fall due (due time, then scheduling order)."""
        jobs = self._jobs(lambda job: job_state(job) == PENDING)
        return sorted(jobs, key=lambda job: (float(job["scheduledTime"]), float(job["_creationTime"])))

    async def run_job(self, job_id: str) -> None:
        """Run one job now if it is still pending, exactly as the loop would (when the loop is off)."""
        await self._execute(job_id)

    # --- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        attempts = 0
        while True:
            try:
                await self._recover()
                break
            except Exception:  # noqa: BLE001 - a system failure: nothing may run before recovery, so retry
                _log.exception("could not recover scheduled jobs; retrying")
                attempts += 1
                await asyncio.sleep(_backoff(attempts))
        while True:
            self._wake.clear()
            if time.monotonic() >= self._next_collection:
                self._next_collection = time.monotonic() + knobs.SCHEDULER_GC_INTERVAL_S
                try:
                    await self._collect_garbage()
                except Exception:  # noqa: BLE001 - old records can wait for the next collection
                    _log.exception("could not delete old scheduled job records")
            self._launch_due()
            await self._sleep()

    def _launch_due(self) -> None:
        now = now_ms()
        while self._due and self._due[0][0] <= now and len(self._running) < knobs.SCHEDULER_PARALLELISM:
            _, _, job_id = heapq.heappop(self._due)
            task = asyncio.get_running_loop().create_task(self._execute(job_id), name=f"opencom-job-{job_id}")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def _sleep(self) -> None:
        timeout = max(0.0, self._next_collection - time.monotonic())
        if self._due and len(self._running) < knobs.SCHEDULER_PARALLELISM:
            timeout = min(timeout, max(0.0, (self._due[0][0] - now_ms()) / 1000.0))
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancel that stops us.
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _on_commits(self, commits: list[Commit]) -> None:
        if self._loop_task is None:
            return  # not running (another server of the deployment runs the jobs): start() reads the table
        for commit in commits:
            for write in commit.writes:
                if (
                    write.table_number == self._table_number
                    and write.new is not None
                    and job_state(write.new) == PENDING
                ):
                    self._enqueue(write.new)

    def _enqueue(self, job: dict[str, Value], due: float | None = None) -> None:
        job_id = str(job["_id"])
        if job_id in self._queued:
            return
        self._queued.add(job_id)
        scheduled = float(job["scheduledTime"]) if due is None else due
        heapq.heappush(self._due, (scheduled, float(job["_creationTime"]), job_id))
        if self._due[0][2] == job_id:
            self._wake.set()

    # --- one job ----------------------------------------------------------------------------
    async def _execute(self, job_id: str) -> None:
        job: dict[str, Value] | None = None
        try:
            job = self._read(job_id)
            if job is not None and job_state(job) == PENDING:
                await self._attempt(job_id, job)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a system failure: the job's row is as it was, so try again
            _log.exception("scheduled job %s hit a system error; it will be retried", job_id)
            self._queued.discard(job_id)
            if job is not None:
                attempts = self._attempts.get(job_id, 0) + 1
                self._attempts[job_id] = attempts
                self._enqueue(job, due=now_ms() + _backoff(attempts) * 1000.0)
            return
        self._queued.discard(job_id)
        self._attempts.pop(job_id, None)

    async def _attempt(self, job_id: str, job: dict[str, Value]) -> None:
        name = str(job["name"])
        arguments = job["args"][0]
        try:
            function = self._target(name)
        except _Unrunnable as error:
            await self._record_failure(job_id, str(error), PENDING)
            return
        if function.kind == "mutation":
            await self._run_mutation(job_id, name, function, arguments)
        else:
            await self._run_action(job_id, name, function, arguments)

    async def _run_mutation(self, job_id: str, name: str, function: FunctionDefinition, arguments: Any) -> None:
        buffers = [logs.LogBuffer()]  # the last attempt's (see Executor.mutate_within_budget)

        def attempt(transaction: Transaction, budget: float | None) -> None:
            buffers[:] = [logs.LogBuffer()]
            job = transaction.get(job_id, system=True)
            if job is None or job_state(job) != PENDING:
                return
            transaction.patch(job_id, {"state": {"kind": IN_PROGRESS}}, system=True)
            token = running_job.set(RunningJob(job_id, "mutation"))
            try:
                with logs.capture(buffers[0]):
                    self._executor.run_in_transaction(function, arguments, transaction, budget)
                finish(transaction, job_id, {"kind": SUCCESS})
            except sqlite3.Error:
                raise  # the store failed, not the user's code: the job stays pending and is retried
            except Exception as error:  # the user's failure, recorded on the job
                raise _UserFailure(error_message(error)) from error
            finally:
                running_job.reset(token)
                transaction.close_scans()

        try:
            await self._mutate_in_turn(attempt, function)
        except _UserFailure as failure:
            await self._record_failure(job_id, failure.message, PENDING)
        finally:
            _emit_logs(name, buffers[0].finish())

    async def _mutate_in_turn(
        self, attempt: Callable[[Transaction, float | None], None], function: FunctionDefinition
    ) -> None:
        """Run a scheduled mutation's ``attempt`` once the writer's queue is clear (``_after_queued_mutations``).
        Scheduled mutations take their turns in the order they were started, so jobs due together
        still reach the writer in scheduling order."""
        async with self._turn:
            await self._after_queued_mutations()
            mutation = asyncio.ensure_future(self._executor.mutate_within_budget(attempt, function=function))
            await asyncio.sleep(0)  # the mutation takes its place in the writer's queue
        await mutation

    async def _after_queued_mutations(self) -> None:
        """Let the mutations already waiting for the writer (mostly clients') go first, waiting at most
        ``knobs.SCHEDULER_YIELD_MAX_S``: a client's mutation queued before a scheduled one became due
        is neither grouped with it nor made to wait for it. The queue must be empty twice across a
        turn of the loop, as the writer empties it a turn before it runs what it took."""
        deadline = time.monotonic() + knobs.SCHEDULER_YIELD_MAX_S
        while time.monotonic() < deadline:
            if self._database.queued_mutations():
                await asyncio.sleep(_YIELD_POLL_S)
                continue
            await asyncio.sleep(0)
            if not self._database.queued_mutations():
                return

    async def _run_action(self, job_id: str, name: str, function: FunctionDefinition, arguments: Any) -> None:
        def claim(transaction: Transaction) -> bool:
            job = transaction.get(job_id, system=True)
            if job is None or job_state(job) != PENDING:
                return False
            transaction.patch(job_id, {"state": {"kind": IN_PROGRESS}}, system=True)
            return True

        if not (await self._database.mutate(claim)).value:
            return
        # From here on the job is inProgress in the database: it will never be started again.
        token = running_job.set(RunningJob(job_id, "action"))
        try:
            result = await self._executor.run_function(function, arguments)
        finally:
            running_job.reset(token)
        _emit_logs(name, result.log_lines)
        state: dict[str, Value] = {"kind": SUCCESS}
        if result.error is not None:
            state = {"kind": FAILED, "error": error_message(result.error)}
        await self._record_until_stored(job_id, state)

    async def _record_until_stored(self, job_id: str, state: dict[str, Value]) -> None:
        """Record an action's outcome, retrying system failures: the action must not look interrupted."""
        attempts = 0
        while True:
            try:
                await self._database.mutate(lambda transaction: _finish_if(transaction, job_id, IN_PROGRESS, state))
                return
            except Exception:  # noqa: BLE001 - only a system failure can get here
                _log.exception("could not record the outcome of scheduled job %s; retrying", job_id)
                attempts += 1
                await asyncio.sleep(_backoff(attempts))

    async def _record_failure(self, job_id: str, message: str, expected: str) -> None:
        state: dict[str, Value] = {"kind": FAILED, "error": message}
        await self._database.mutate(lambda transaction: _finish_if(transaction, job_id, expected, state))

    def _target(self, name: str) -> FunctionDefinition:
        module, function_name = canonical_path(name).split(":")
        app = self._executor.app
        function = app.functions.get(f"{module}:{function_name}")
        if function is None:
            if module not in app.modules:
                raise _Unrunnable(f"Couldn't find JavaScript module '{module}.js'.")
            raise _Unrunnable(f'Couldn\'t find "{function_name}" in module "{module}.js".')
        if function.kind not in ("mutation", "action"):
            raise _Unrunnable(
                f'Unsupported function type. FunctionName("{function_name}") in module "{module}.js" is defined as a '
                f"{function.kind.capitalize()}. Only Mutation and Action can be scheduled."
            )
        return function

    def _read(self, job_id: str) -> dict[str, Value] | None:
        with self._database.snapshot() as ts:
            return self._database.read_transaction(ts).get(job_id, system=True)

    # --- start-up recovery and garbage collection --------------------------------------------
    async def _recover(self) -> None:
        """Queue every pending job; fail every action a crash or shutdown interrupted."""
        interrupted: list[str] = []
        for job in self._jobs(lambda job: job_state(job) in (PENDING, IN_PROGRESS)):
            if job_state(job) == PENDING:
                self._enqueue(job)
            else:
                interrupted.append(str(job["_id"]))
        state: dict[str, Value] = {"kind": FAILED, "error": INTERRUPTED_ACTION}
        await self._in_batches(
            interrupted, lambda transaction, job_id: _finish_if(transaction, job_id, IN_PROGRESS, state)
        )

    async def _collect_garbage(self) -> None:
        """Delete the records of jobs that finished more than the retention period ago."""
        cutoff = now_ms() - knobs.SCHEDULED_JOB_RETENTION_S * 1000.0
        old = [str(job["_id"]) for job in self._jobs(lambda job: _completed_before(job, cutoff))]

        def delete(transaction: Transaction, job_id: str) -> None:
            job = transaction.get(job_id, system=True)
            if job is not None and _completed_before(job, cutoff):
                transaction.delete(job_id, system=True)

        await self._in_batches(old, delete)

    def _jobs(self, wanted: Callable[[dict[str, Value]], bool]) -> list[dict[str, Value]]:
        """The job rows ``wanted`` accepts, read straight from one snapshot (no per-query limits)."""
        with self._database.snapshot() as ts:
            rows = self._database.read_transaction(ts).rows
            documents = (decode_document(body) for body in rows.table_documents(self._table_number))
            return [document for document in documents if wanted(document)]

    async def _in_batches(self, job_ids: list[str], change: Callable[[Transaction, str], None]) -> None:
        for start in range(0, len(job_ids), knobs.SCHEDULER_GC_BATCH):
            batch = job_ids[start : start + knobs.SCHEDULER_GC_BATCH]

            def body(transaction: Transaction, batch: list[str] = batch) -> None:
                for job_id in batch:
                    change(transaction, job_id)

            await self._database.mutate(body)


def _finish_if(transaction: Transaction, job_id: str, expected: str, state: dict[str, Value]) -> None:
    """Finish the job in ``state`` if it is still in state ``expected`` (a canceled job stays canceled)."""
    job = transaction.get(job_id, system=True)
    if job is not None and job_state(job) == expected:
        finish(transaction, job_id, state)


def _backoff(attempts: int) -> float:
    """Seconds to wait before retry number ``attempts`` after a system failure."""
    return float(min(knobs.SCHEDULER_RETRY_INITIAL_S * 2 ** min(attempts - 1, 40), knobs.SCHEDULER_RETRY_MAX_S))


def _completed_before(job: dict[str, Value], cutoff: float) -> bool:
    completed = job.get("completedTime")
    return isinstance(completed, float) and completed < cutoff and job_state(job) in (SUCCESS, FAILED, CANCELED)


def _emit_logs(name: str, lines: list[str]) -> None:
    """Scheduled runs have no caller to return log lines to: they go to the process log."""
    for line in lines:
        _log.info("%s %s", name, line)
