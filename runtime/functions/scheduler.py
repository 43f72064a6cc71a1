"""``ctx.scheduler``: scheduling and canceling functions, as rows of ``_scheduled_functions``.

A job is one document of the system table ``_scheduled_functions`` (convex-semantics §3.14, §7):
``{name: "module.js:fn", args: [args], scheduledTime, completedTime?, state: {kind, error?}}``.
In a mutation the row is written by the mutation's own transaction, so it exists only if the
mutation commits and the job can only start after that commit. In an action every call is a
transaction of its own, committed before the call returns. ``runtime.functions.job_runner`` runs the jobs.

The job a function runs under (if a scheduler run started it) travels down its call tree in a
context variable, because Convex derives two rules from it: a mutation may not cancel the job it
runs under, and what anything under a canceled running action schedules is born canceled.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.clock import now_ms
from runtime.database.transaction import Transaction
from runtime.functions.definitions import FunctionDefinition, Kind
from runtime.functions.paths import canonical_path
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.values.errors import ConvexValueError, FunctionNotFoundError, LimitExceededError
from runtime.values.ids import id_table_number
from runtime.values.values import Value, check_value, display, strip_undefined, value_size

if TYPE_CHECKING:
    from runtime.functions.execution import Execution, ExecutionHost

SCHEDULED_FUNCTIONS = "_scheduled_functions"
PENDING, IN_PROGRESS, SUCCESS, FAILED, CANCELED = "pending", "inProgress", "success", "failed", "canceled"
_DAY_MS = 86_400_000.0


@dataclass(frozen=True, slots=True)
class RunningJob:
    """The scheduled job a function call tree runs under, and the kind of its target."""

    job_id: str
    kind: Kind


running_job: ContextVar[RunningJob | None] = ContextVar("opencom_running_job", default=None)
"""Set by the job runner around a job's execution; read by ``ctx.scheduler`` below it."""


def job_state(job: dict[str, Value]) -> str:
    """The ``kind`` of a job's state."""
    state = job["state"]
    assert isinstance(state, dict)
    return str(state["kind"])


def finish(transaction: Transaction, job_id: str, state: dict[str, Value]) -> None:
    """Move a job to a final state (success, failed or canceled), stamping ``completedTime``."""
    transaction.patch(job_id, {"state": state, "completedTime": now_ms()}, system=True)


# --- validation ---------------------------------------------------------------------------------
def delay_time(delay_ms: Any) -> float:
    """The target time of ``run_after(delay_ms, ...)``, checked as Convex checks ``delayMs``."""
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)):
        raise ConvexValueError("`delayMs` must be a number")
    if not math.isfinite(delay_ms):
        raise ConvexValueError("`delayMs` must be a finite number")
    if delay_ms < 0:
        raise ConvexValueError("`delayMs` must be non-negative")
    return _within_horizon(now_ms() + float(delay_ms))


def timestamp_time(timestamp: Any) -> float:
    """The target time of ``run_at(timestamp, ...)``: ms since the epoch, or a ``datetime``."""
    if isinstance(timestamp, datetime):
        return _within_horizon(timestamp.timestamp() * 1000.0)
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise ConvexValueError("The invoke time must a Date or a timestamp")  # sic, Convex's wording
    if math.isnan(timestamp) or math.isinf(timestamp):
        raise ConvexValueError(
            "Invalid arguments for `ts`: cannot convert float seconds to Duration: value is either too big or NaN"
        )
    if timestamp < 0:
        raise ConvexValueError(
            "Invalid arguments for `ts`: cannot convert float seconds to Duration: value is negative"
        )
    return _within_horizon(float(timestamp))


def _within_horizon(target_ms: float) -> float:
    horizon = knobs.SCHEDULING_HORIZON_DAYS * _DAY_MS
    now = now_ms()
    if target_ms > now + horizon:
        raise ConvexValueError(f"UnixTimestamp({target_ms / 1000}s) is more than 5 years in the future")
    if target_ms < now - horizon:
        raise ConvexValueError(f"UnixTimestamp({target_ms / 1000}s) is more than 5 years in the past")
    return target_ms


def scheduled_name(executor: ExecutionHost, reference: Any) -> str:
    """The canonical ``module.js:fn`` of a function to schedule; it must exist (any kind, any visibility)."""
    if isinstance(reference, FunctionDefinition):
        if reference.path is None:
            raise FunctionNotFoundError(f"{reference!r} is not part of this app")
        reference = reference.path
    module, function_name = canonical_path(reference).split(":")
    if module not in executor.app.modules:
        raise FunctionNotFoundError(f"Attempted to schedule function at nonexistent path: {module}.js")
    if f"{module}:{function_name}" not in executor.app.functions:
        raise FunctionNotFoundError(
            f"Attempted to schedule function, but no exported function {function_name} found in the file: "
            f"{module}.js. Did you forget to export it?"
        )
    return f"{module}.js:{function_name}"


def scheduled_args(args: Any) -> dict[str, Value]:
    """The arguments object of a job: a Convex object (validated against the target only when it runs)."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise ConvexValueError(f"The arguments to a Convex function must be an object. Received: {display(args)}")
    check_value(args)
    cleaned = strip_undefined(args)
    assert isinstance(cleaned, dict)
    return cleaned


def check_job_id(job_id: Any) -> str:
    """``job_id`` if it is an id of ``_scheduled_functions``, else Convex's error."""
    if not isinstance(job_id, str) or id_table_number(job_id) != SYSTEM_TABLE_NUMBERS[SCHEDULED_FUNCTIONS]:
        raise ConvexValueError(
            "Invalid scheduled function ID. The ID must be an ID on the '_scheduled_functions' table."
        )
    return str(job_id)


# --- writes -------------------------------------------------------------------------------------
def insert_job(
    transaction: Transaction, name: str, args: dict[str, Value], target_ms: float, parent: RunningJob | None
) -> str:
    """Write the job row; born ``canceled`` when ``parent``, the running job it descends from, was canceled."""
    document: dict[str, Value] = {"name": name, "args": [args], "scheduledTime": target_ms, "state": {"kind": PENDING}}
    if parent is not None:
        parent_job = transaction.get(parent.job_id, system=True)
        if parent_job is not None and job_state(parent_job) == CANCELED:
            document["state"] = {"kind": CANCELED}
            document["completedTime"] = now_ms()
    return transaction.insert(SCHEDULED_FUNCTIONS, document, system=True)


def count_scheduled(transaction: Transaction, args: dict[str, Value]) -> None:
    """Charge one job and its arguments to the transaction's limits (convex-semantics §4.4)."""
    metrics = transaction.metrics
    metrics.functions_scheduled += 1
    metrics.scheduled_args_bytes += value_size(args)
    if metrics.functions_scheduled > knobs.MAX_FUNCTIONS_SCHEDULED:
        raise LimitExceededError(
            f"Too many functions scheduled by this mutation (limit: {knobs.MAX_FUNCTIONS_SCHEDULED})"
        )
    if metrics.scheduled_args_bytes > knobs.MAX_SCHEDULED_ARGS_SIZE:
        raise LimitExceededError(
            "Too large total size of the arguments of scheduled functions from this mutation "
            f"(limit: {knobs.MAX_SCHEDULED_ARGS_SIZE} bytes)"
        )


def cancel_job(transaction: Transaction, job_id: str) -> None:
    """``pending``/``inProgress`` → ``canceled``; a finished or missing job is left alone, as in Convex."""
    job = transaction.get(job_id, system=True)
    if job is not None and job_state(job) in (PENDING, IN_PROGRESS):
        finish(transaction, job_id, {"kind": CANCELED})


# --- ctx.scheduler ------------------------------------------------------------------------------
class MutationScheduler:
    """``ctx.scheduler`` of a mutation: jobs are part of the mutation's transaction."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    async def run_after(self, delay_ms: float, function: Any, args: dict[str, Value] | None = None) -> str:
        """Run ``function`` (a path or the decorated function) ``delay_ms`` after now; returns the job id."""
        return self._schedule(delay_time(delay_ms), function, args)

    async def run_at(self, timestamp: float | datetime, function: Any, args: dict[str, Value] | None = None) -> str:
        """Run ``function`` at ``timestamp`` (ms since the epoch, or a ``datetime``); returns the job id."""
        return self._schedule(timestamp_time(timestamp), function, args)

    async def cancel(self, job_id: str) -> None:
        """Cancel a job that has not finished; a running action keeps running."""
        job_id = check_job_id(job_id)
        running = running_job.get()
        if running is not None and running.job_id == job_id:
            raise ConvexValueError("A mutation cannot cancel itself")
        cancel_job(self._transaction, job_id)

    @property
    def _transaction(self) -> Transaction:
        transaction = self._execution.transaction
        assert transaction is not None
        return transaction

    def _schedule(self, target_ms: float, function: Any, args: dict[str, Value] | None) -> str:
        name = scheduled_name(self._execution.executor, function)
        arguments = scheduled_args(args)
        count_scheduled(self._transaction, arguments)
        return insert_job(self._transaction, name, arguments, target_ms, running_job.get())


class ActionScheduler:
    """``ctx.scheduler`` of an action: every call commits on its own, whatever the action does next."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    async def run_after(self, delay_ms: float, function: Any, args: dict[str, Value] | None = None) -> str:
        """Run ``function`` ``delay_ms`` after now; the job is committed before this returns."""
        return await self._schedule(delay_time(delay_ms), function, args)

    async def run_at(self, timestamp: float | datetime, function: Any, args: dict[str, Value] | None = None) -> str:
        """Run ``function`` at ``timestamp``; the job is committed before this returns."""
        return await self._schedule(timestamp_time(timestamp), function, args)

    async def cancel(self, job_id: str) -> None:
        """Cancel a job that has not finished (committed at once)."""
        job_id = check_job_id(job_id)
        await self._execution.executor.database.mutate(lambda transaction: cancel_job(transaction, job_id))

    async def _schedule(self, target_ms: float, function: Any, args: dict[str, Value] | None) -> str:
        name = scheduled_name(self._execution.executor, function)
        arguments = scheduled_args(args)
        parent = running_job.get()  # read here: the body runs on the database's writer task

        def body(transaction: Transaction) -> str:
            count_scheduled(transaction, arguments)
            return insert_job(transaction, name, arguments, target_ms, parent)

        result = await self._execution.executor.database.mutate(body)
        return result.value
