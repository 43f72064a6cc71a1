"""The one entry point that runs any function by name: tests, the CLI and the server use it.

``Executor.run(path, args, identity=...)`` validates the arguments, runs the function with the
context of its kind, validates the result and returns a ``FunctionResult`` carrying the value or
the error, the log lines, the timestamp the result belongs to, and (for queries) the read set
the subscription layer watches.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from runtime import knobs
from runtime.database.database import Database, MutationResult
from runtime.database.off_loop import Workers
from runtime.database.optimistic import OffWriter, run_optimistically
from runtime.database.read_set import ReadSet
from runtime.database.return_values import StoredDocuments, checked_return_value
from runtime.database.transaction import Transaction
from runtime.function_clock import cpu_seconds_since, run_started
from runtime.functions import logs
from runtime.functions.app_loader import App, load_app
from runtime.functions.connection import NO_CONNECTION, Connection, Proof
from runtime.functions.context import ActionCtx, MutationCtx, QueryCtx
from runtime.functions.cron_runner import CronRunner
from runtime.functions.definitions import FunctionDefinition, Kind
from runtime.functions.execution import Execution
from runtime.functions.file_storage import FileStorage
from runtime.functions.job_runner import JobRunner
from runtime.functions.queries import Query
from runtime.functions.steps import run_to_completion
from runtime.store.receipts import AlreadyCommitted, Receipt, encode_outcome
from runtime.time_limit import WATCHDOG, FunctionTimeout, LoopBudgetSpent, StepLimited, timeout_message
from runtime.tokens.deployment import DeploymentAuth
from runtime.tokens.identity import Identity
from runtime.values.errors import ConvexValueError, FunctionNotFoundError, LimitExceededError
from runtime.values.validators import validate_args, validate_returns
from runtime.values.values import UNDEFINED, Value, binary_size, check_value, strip_undefined, value_size

T = TypeVar("T")
DEFAULT_DATA_DIR = ".opencom"
STORAGE_DIR = "storage"  # file storage, inside the data directory


@dataclass
class FunctionResult:
    """The outcome of one call: ``value`` or ``error``, plus what the caller may want to know."""

    value: Value = None
    error: Exception | None = None
    log_lines: list[str] = field(default_factory=list)
    ts: int | None = None  # snapshot ts of a query; commit ts of a mutation
    read_set: ReadSet | None = None
    journal: str | None = None
    proofs: tuple[Proof, ...] = ()  # what a committed mutation proved about its connection (runtime.functions.connection)

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Value:
        """The value, or the error raised."""
        if self.error is not None:
            raise self.error
        return self.value


async def _stepped(coroutine: Coroutine[Any, Any, Any], deadline: float) -> Any:
    """``coroutine``'s result, each of its steps stopped at ``deadline`` (see ``StepLimited``)."""
    return await StepLimited(coroutine, deadline)


class Executor:
    """Runs the functions of one app against one database."""

    def __init__(self, app: App, database: Database) -> None:
        self.app = app
        self.database = database
        # Where this deployment is reachable: file URLs and CONVEX_*_URL. The server sets them when it binds.
        self.cloud_url: str = knobs.CLOUD_URL
        self.site_url: str = knobs.SITE_URL
        # Token verification, the deployment's own issuer (its URL is site_url) and the admin key.
        self.auth = DeploymentAuth(database.path.parent, app.auth_config, site_url=lambda: self.site_url)
        self.file_storage = FileStorage(database, database.path.parent / STORAGE_DIR)
        # Where long queries and mutations finish (runtime.database.off_loop).
        self.workers = Workers(database.path, database.database_url)
        self.job_runner = JobRunner(self)
        self.cron_runner = CronRunner(self)
        # One-shot tools (e.g. the CLI running a single function) set this False before the first call,
        # so that they do not pick up due scheduled jobs only to interrupt them when they exit.
        self.run_scheduled_jobs = True
        self._scheduler_lease: Any = None  # on PostgreSQL, one server of the deployment runs the jobs
        self._started = False
        self._reload_listeners: list[Callable[[App], None]] = [lambda app: self.cron_runner.app_changed()]
        # Mutation path → the CPU time of its last run, on the writer or beside it alike (``cpu_seconds_since``:
        # no clock read for a short run): past ``knobs.WRITER_HOLD_S``, its next run starts beside the writer
        # (``mutate_within_budget``). Both sides measure the same thing so that a mutation whose work is
        # long stays beside the writer: wall time on the loop, which counts other threads' turns with the
        # interpreter lock, against CPU time on a worker, sent a long fan-out back and forth.
        # Written from worker threads too; one entry per mutation of the app at most.
        self._mutation_seconds: dict[str, float] = {}

    @classmethod
    def open(
        cls,
        app_dir: Path | str,
        data_dir: Path | str | None = None,
        *,
        synchronous: str | None = None,
        database_url: str | None = None,
    ) -> Executor:
        """Load the app at ``app_dir`` and open its database (default ``<app>/.opencom``; PostgreSQL at ``database_url``)."""
        app = load_app(app_dir)
        data = Path(data_dir) if data_dir is not None else app.root / DEFAULT_DATA_DIR
        return cls(app, Database(data, app.schema, synchronous=synchronous, database_url=database_url))

    async def start(self) -> None:
        """Start the database writer, tidy file storage and start running scheduled jobs.

        Idempotent; the first mutation or action calls it too, so only a server needs to.
        """
        if self._started:
            return
        self._started = True
        await self.database.start()
        self.file_storage.sweep()
        if not self.run_scheduled_jobs:
            return
        if self.database.database_url is None:
            await self._start_runners()
            return
        from runtime.functions.scheduler_lease import SchedulerLease

        self._scheduler_lease = SchedulerLease(self.database.database_url, self._start_runners, self._stop_runners)
        await self._scheduler_lease.start()

    async def _start_runners(self) -> None:
        await self.job_runner.start()
        await self.cron_runner.start()

    async def _stop_runners(self) -> None:
        await self.cron_runner.stop()
        await self.job_runner.stop()

    def add_reload_listener(self, listener: Callable[[App], None]) -> None:
        """Call ``listener(app)`` right after ``reload`` swapped new code in (live queries re-run with it)."""
        self._reload_listeners.append(listener)

    async def reload(self, app: App) -> None:
        """Serve ``app``'s code from now on (``opencom dev``'s hot reload); data and connections stay.

        A changed schema is installed first, through the writer (``Database.change_schema``): if
        stored documents violate it, ``SchemaChangeError`` is raised and the old code keeps serving.
        """
        old_schema = self.database.schema.to_json() if self.database.schema is not None else None
        new_schema = app.schema.to_json() if app.schema is not None else None
        if new_schema != old_schema:
            await self.database.change_schema(app.schema)
        self.app = app
        for listener in self._reload_listeners:
            listener(app)

    async def close(self) -> None:
        if self._scheduler_lease is not None:
            await self._scheduler_lease.stop()
        await self._stop_runners()
        await self.auth.close()
        await self.database.close()
        self.workers.close()

    # --- public entry points ----------------------------------------------------------------
    async def run(
        self,
        path: str,
        args: Any = None,
        *,
        identity: Identity | None = None,
        admin: bool = False,
        kind: Kind | None = None,
        journal: str | None = None,
        connection: Connection = NO_CONNECTION,
        receipt: Receipt | None = None,
    ) -> FunctionResult:
        """Run the function at ``path``. Internal functions need ``admin``; ``kind`` is checked.

        ``connection`` is the caller's (``runtime.functions.connection``): the server passes it, others need not.
        ``receipt``: a client mutation's identity (``runtime.store.receipts``); one that committed before
        is not run again, and the result is its first outcome.
        """
        try:
            function = self.app.lookup(path, kind=kind, allow_internal=admin)
        except FunctionNotFoundError as error:
            return FunctionResult(error=error)
        args = {} if args is None else args
        if function.kind == "mutation":
            return await self._run_mutation(function, args, identity, 0, connection, receipt)
        return await self.run_function(function, args, identity=identity, journal=journal, connection=connection)

    async def call(self, path: str, args: Any = None, *, identity: Identity | None = None, admin: bool = False) -> Value:
        """Like ``run`` but returns the value or raises the error: the convenient form for Python."""
        return (await self.run(path, args, identity=identity, admin=admin)).unwrap()

    async def run_function(
        self,
        function: FunctionDefinition,
        args: Any,
        *,
        identity: Identity | None = None,
        journal: str | None = None,
        depth: int = 0,
        connection: Connection = NO_CONNECTION,
    ) -> FunctionResult:
        """Run an already resolved function (see ``run``)."""
        if function.kind == "query":
            return await self._run_query_anywhere(function, args, identity, journal, connection)
        if function.kind == "mutation":
            return await self._run_mutation(function, args, identity, depth, connection)
        return await self._run_action(function, args, identity, depth, connection)

    def run_query(
        self,
        function: FunctionDefinition,
        args: Any,
        *,
        identity: Identity | None = None,
        journal: str | None = None,
        connection: Connection = NO_CONNECTION,
        budget: float | None = None,
    ) -> FunctionResult:
        """Run a query synchronously, inside the open snapshot if there is one (see ``Database.snapshot``).

        It keeps the event loop thread until it is done (up to its time limit), or until it has used
        ``budget`` seconds of CPU, when ``LoopBudgetSpent`` propagates: callers that can await use
        ``run_function``, which then moves it to a worker thread; live queries use ``run_query_at_latest``.
        """
        with self.database.snapshot() as ts:
            transaction = self.database.read_transaction(ts)
            return self._query(transaction, function, args, identity, journal, connection, budget)

    def run_query_at_latest(
        self,
        function: FunctionDefinition,
        args: Any,
        identity: Identity | None,
        journal: str | None,
        connection: Connection,
    ) -> FunctionResult:
        """Run a query on a worker thread (``Workers.run``), at its own reader's latest snapshot.

        Its result's ``ts`` says which snapshot that was: never older than any commit durable when
        it was called.
        """
        with self.workers.snapshot() as (rows, ts):
            transaction = Transaction(self.database, rows, ts, writable=False)
            return self._query(transaction, function, args, identity, journal, connection, budget=None)

    async def _run_query_anywhere(
        self,
        function: FunctionDefinition,
        args: Any,
        identity: Identity | None,
        journal: str | None,
        connection: Connection,
    ) -> FunctionResult:
        """A query run on the loop or, past the loop's CPU budget, again on a worker (``runtime.database.off_loop``)."""
        if self.database.snapshot_open:  # it must read at the caller's snapshot, which only the loop holds
            return self.run_query(function, args, identity=identity, journal=journal, connection=connection)
        try:
            budget = knobs.LOOP_CPU_BUDGET_S
            return self.run_query(function, args, identity=identity, journal=journal, connection=connection, budget=budget)
        except LoopBudgetSpent:
            pass
        return await self.workers.run(self.run_query_at_latest, function, args, identity, journal, connection)

    def _query(
        self,
        transaction: Transaction,
        function: FunctionDefinition,
        args: Any,
        identity: Identity | None,
        journal: str | None,
        connection: Connection,
        budget: float | None,
    ) -> FunctionResult:
        """One run of a query in ``transaction``; past ``budget``, ``LoopBudgetSpent`` propagates."""
        buffer = logs.LogBuffer()
        execution = Execution(self, function, identity, journal_in=journal, connection=connection)
        execution.transaction = transaction
        ts = transaction.ts
        with logs.capture(buffer):
            try:
                value = self._invoke_within_limit(execution, args, budget)
            except Exception as error:  # noqa: BLE001 - the caller receives every failure
                # The read set too: a failure that depends on data must be re-run when that data changes.
                return FunctionResult(error=error, log_lines=buffer.finish(), ts=ts, read_set=transaction.read_set)
            finally:
                transaction.close_scans()
        return FunctionResult(
            value=value, log_lines=buffer.finish(), ts=ts, read_set=transaction.read_set, journal=execution.journal_out
        )

    async def _run_mutation(
        self,
        function: FunctionDefinition,
        args: Any,
        identity: Identity | None,
        depth: int,
        connection: Connection,
        receipt: Receipt | None = None,
    ) -> FunctionResult:
        await self.start()
        # The last attempt's execution and logs: a run moved off the loop drops the first attempt's.
        executions: list[Execution] = []
        buffers = [logs.LogBuffer()]

        def attempt(transaction: Transaction, budget: float | None) -> Value:
            execution = Execution(self, function, identity, transaction=transaction, depth=depth, connection=connection)
            executions[:] = [execution]
            buffers[:] = [logs.LogBuffer()]
            with logs.capture(buffers[0]):
                try:
                    value = self._invoke_within_limit(execution, args, budget)
                finally:
                    transaction.close_scans()
            if receipt is not None:
                receipt.outcome = encode_outcome(value, buffers[0].finish(), execution.proofs.recorded)
            return value

        try:
            result = await self.mutate_within_budget(attempt, receipt, function=function)
        except AlreadyCommitted as committed:
            first = committed.outcome
            return FunctionResult(value=first.value, log_lines=first.log_lines, ts=first.ts, proofs=first.proofs)
        except Exception as error:  # noqa: BLE001
            return FunctionResult(error=error, log_lines=buffers[0].finish())
        proofs = tuple(executions[0].proofs.recorded)
        read_set = executions[0].transaction.read_set if executions[0].transaction is not None else None
        return FunctionResult(
            value=result.value, log_lines=buffers[0].finish(), ts=result.ts, read_set=read_set, proofs=proofs
        )

    async def mutate_within_budget(
        self,
        attempt: Callable[[Transaction, float | None], T],
        receipt: Receipt | None = None,
        *,
        function: FunctionDefinition | None = None,
    ) -> MutationResult[T]:
        """``attempt(transaction, budget)`` as one mutation, committed once; its exceptions propagate.

        It runs first on the writer, stopped by ``LoopBudgetSpent`` past ``budget`` (the event loop's
        CPU budget); then, rolled back, again from the start beside the writer with its full time
        limit (``budget`` None), optimistically (``runtime.database.optimistic``), so that it never holds
        other callers' mutations. Each run gets the caller's context (the scheduled job it runs under).
        ``receipt``: see ``Database.mutate``. A ``function`` whose last run used more CPU than
        ``knobs.WRITER_HOLD_S`` starts beside the writer: a mutation that is long every time (a
        fan-out to every agent) neither holds the loop nor pays for a wasted first attempt.
        """
        caller_context = contextvars.copy_context()
        path = function.path if function is not None else None
        off_loop = functools.partial(self._on_worker, caller_context, attempt, path)
        if path is None or self._mutation_seconds.get(path, 0.0) <= knobs.WRITER_HOLD_S:

            def body(transaction: Transaction) -> T:
                started = run_started()
                try:
                    value = caller_context.run(attempt, transaction, knobs.LOOP_CPU_BUDGET_S)
                except LoopBudgetSpent:
                    self._remember_seconds(path, math.inf)  # longer than the budget: how long, the next run says
                    raise OffWriter from None
                self._remember_seconds(path, cpu_seconds_since(started, knobs.WRITER_HOLD_S))
                return value

            try:
                return await self.database.mutate(body, receipt)
            except OffWriter:
                pass
        return await run_optimistically(self.database, self.workers, off_loop, receipt)

    def _remember_seconds(self, path: str | None, seconds: float) -> None:
        if path is not None:
            self._mutation_seconds[path] = seconds

    def _on_worker(
        self,
        context: contextvars.Context,
        attempt: Callable[[Transaction, float | None], T],
        path: str | None,
        transaction: Transaction,
    ) -> T:
        """A mutation's later attempt, on a worker thread: its time limit counts this thread's CPU."""
        started = run_started()
        transaction.deadline = started[0] + knobs.QUERY_TIME_LIMIT_S
        try:
            return context.run(attempt, transaction, None)
        finally:
            self._remember_seconds(path, cpu_seconds_since(started, knobs.WRITER_HOLD_S))

    async def _run_action(
        self, function: FunctionDefinition, args: Any, identity: Identity | None, depth: int, connection: Connection
    ) -> FunctionResult:
        await self.start()
        execution = Execution(self, function, identity, depth=depth, connection=connection)
        with logs.capture() as buffer:
            try:
                arguments = self._checked_args(function, args)
                coroutine = self._call_handler(function, ActionCtx(execution), arguments)
                deadline = time.monotonic() + knobs.ACTION_TIME_LIMIT_S
                value = await asyncio.wait_for(_stepped(coroutine, deadline), knobs.ACTION_TIME_LIMIT_S)
                value = self._checked_result(function, value)
            except (asyncio.TimeoutError, FunctionTimeout):
                error = LimitExceededError(timeout_message(knobs.ACTION_TIME_LIMIT_S))
                return FunctionResult(error=error, log_lines=buffer.finish())
            except Exception as error:  # noqa: BLE001
                return FunctionResult(error=error, log_lines=buffer.finish())
        return FunctionResult(value=value, log_lines=buffer.finish())

    def run_in_transaction(
        self, function: FunctionDefinition, args: Any, transaction: Transaction, budget: float | None = None
    ) -> Value:
        """Run a query or mutation with no identity inside ``transaction`` (how scheduled mutations run).

        ``budget``: the one ``mutate_within_budget`` hands its attempt.
        """
        return self._invoke_within_limit(Execution(self, function, None, transaction=transaction), args, budget)

    # --- nested calls -----------------------------------------------------------------------
    def resolve(self, reference: Any) -> FunctionDefinition:
        """A function from a path string or the decorated function itself (internal allowed)."""
        if isinstance(reference, FunctionDefinition):
            if reference.path is None:
                raise FunctionNotFoundError(f"{reference!r} is not part of this app")
            return self.app.lookup(reference.path, allow_internal=True)
        return self.app.lookup(reference, allow_internal=True)

    def run_nested(self, parent: Execution, reference: Any, args: Any, kind: Kind) -> Value:
        """``ctx.run_query``/``ctx.run_mutation`` inside a query or mutation: same transaction."""
        function = self._nested_function(parent, reference, kind)
        transaction = parent.transaction
        assert transaction is not None
        child = Execution(
            self,
            function,
            parent.identity,
            transaction=transaction,
            depth=parent.depth + 1,
            connection=parent.connection,
            proofs=parent.proofs,
        )
        if kind == "query":
            return self._invoke(child, args)
        mark = parent.proofs.mark()
        try:
            with transaction.subtransaction():
                return self._invoke(child, args)
        except BaseException:
            parent.proofs.roll_back(mark)
            raise

    async def run_from_action(self, parent: Execution, reference: Any, args: Any, kind: Kind) -> Value:
        """``ctx.run_*`` inside an action: each call is its own transaction."""
        function = self._nested_function(parent, reference, kind)
        depth = parent.depth + 1
        result = await self.run_function(
            function, args, identity=parent.identity, depth=depth, connection=parent.connection
        )
        return result.unwrap()

    def _nested_function(self, parent: Execution, reference: Any, kind: Kind) -> FunctionDefinition:
        if parent.depth + 1 > knobs.MAX_CALL_DEPTH:
            raise LimitExceededError("Cross component call depth limit exceeded. Do you have an infinite loop in your app?")
        function = self.resolve(reference)
        if function.kind != kind:
            raise ConvexValueError(f"Cannot call a {function.kind} function with run_{kind}")
        return function

    # --- the call itself --------------------------------------------------------------------
    def _invoke_within_limit(self, execution: Execution, args: Any, budget: float | None = None) -> Value:
        """``_invoke`` of a whole transaction's function, stopped once it runs past Convex's 1 s.

        Nested ``ctx.run_*`` calls run inside it and share its deadline (``runtime.time_limit``).
        With ``budget`` (the event loop's CPU budget) it is stopped then instead, by ``LoopBudgetSpent``,
        for the caller to run it again on a worker thread (``runtime.database.off_loop``).
        """
        running_loop = asyncio._get_running_loop()
        try:
            if budget is None:
                run = WATCHDOG.start(knobs.QUERY_TIME_LIMIT_S)
            else:
                run = WATCHDOG.start(budget, error=LoopBudgetSpent)
            try:
                return self._invoke(execution, args)
            finally:
                WATCHDOG.finish(run)
        except FunctionTimeout:
            # The interruption may have cut short the handler's own step loop before it put the
            # thread's running loop back (``runtime.functions.steps``): make sure the server's is current.
            asyncio._set_running_loop(running_loop)
            raise LimitExceededError(timeout_message(knobs.QUERY_TIME_LIMIT_S)) from None
        except LoopBudgetSpent:
            asyncio._set_running_loop(running_loop)
            raise

    def _invoke(self, execution: Execution, args: Any) -> Value:
        function = execution.function
        arguments = self._checked_args(function, args)
        context = MutationCtx(execution) if function.kind == "mutation" else QueryCtx(execution)
        value = run_to_completion(self._call_handler(function, context, arguments))
        stored = execution.transaction.stored_documents if execution.transaction is not None else None
        return self._checked_result(function, value, stored)

    @staticmethod
    def _call_handler(function: FunctionDefinition, context: Any, arguments: dict[str, Value]) -> Any:
        if function.keyword_args:
            return function.handler(context, **arguments)
        return function.handler(context, arguments)

    def _checked_args(self, function: FunctionDefinition, args: Any) -> dict[str, Value]:
        if not isinstance(args, dict):
            validate_args(function.args, args, None)  # raises Convex's ArgumentValidationError
        check_value(args)
        size = value_size(args)
        if size > knobs.MAX_FUNCTION_ARGS_SIZE:
            raise ConvexValueError(
                f"Arguments for {function.path} are too large "
                f"(actual: {binary_size(size)}, limit: {binary_size(knobs.MAX_FUNCTION_ARGS_SIZE)})"
            )
        return validate_args(function.args, strip_undefined(args), self.database.catalog)

    def _checked_result(self, function: FunctionDefinition, value: Any, stored: StoredDocuments | None = None) -> Value:
        """``value`` checked and cleaned for the caller; ``stored``: documents the function read (fast path)."""
        if isinstance(value, Query):
            raise ConvexValueError(
                "Return value is a Query. Results must be retrieved with `.collect()`, `.take(n), `.unique()`, or `.first()`."
            )
        if value is UNDEFINED:
            value = None  # returning `undefined` returns null, as in Convex
        value, size = checked_return_value(value, stored or {})
        if size > knobs.MAX_FUNCTION_RESULT_SIZE:
            raise ConvexValueError(
                f"Function {function.path} return value is too large "
                f"(actual: {binary_size(size)}, limit: {binary_size(knobs.MAX_FUNCTION_RESULT_SIZE)})"
            )
        validate_returns(function.returns, value, self.database.catalog)
        return value
