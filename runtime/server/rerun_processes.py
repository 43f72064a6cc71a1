"""Live-query re-runs on worker processes, so that the app's Python runs on every core.

One event loop runs on one core; the re-runs commits start (an inbox watched by fifty agents)
are most of the server's work. ``RerunProcesses`` keeps ``knobs.RERUN_PROCESSES`` processes,
each with the app loaded and its own read connection to the deployment's store (SQLite's WAL
file or PostgreSQL), and runs batches of queries there:

- A batch runs in one read transaction: every result in it belongs to the one snapshot whose
  timestamp comes back with them, the newest commit durable when the batch started (the store
  keeps current state only, so it cannot be an older one chosen by the caller). The subscription
  manager brings such results forward to its own timestamp with the write sets of the commits
  since (``subscriptions``), so Transitions still show one snapshot.
- What travels back is what a client will see: the value already encoded as wire JSON (encoded
  in the worker, so the loop never walks it), or the failure's message and data, the log lines,
  the journal, and the read set the manager indexes.
- A process's catalog (tables, indexes) follows the serving process's: each batch names the
  catalog it was dispatched under, and a process whose own differs reloads it from its snapshot.
- Code changes (``opencom dev``) replace the processes; a process that dies or a batch that fails
  in the runtime turns them off, and re-runs go back to the event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from msgspec import UNSET

from runtime import knobs
from runtime.database.database import Database
from runtime.database.read_set import ReadSet
from runtime.functions.app_loader import load_app
from runtime.functions.connection import Connection
from runtime.functions.executor import Executor
from runtime.functions.failures import describe
from runtime.server import wire_json
from runtime.server.process_tuning import tune_garbage_collection
from runtime.store.catalog import Catalog
from runtime.time_limit import LoopBudgetSpent
from runtime.tokens.identity import Identity
from runtime.values.values import Value

CatalogSignature = tuple[int, int]
PARENT_CHECK_INTERVAL_S = 1.0  # how soon a worker notices that the server died


def catalog_signature(catalog: Catalog) -> CatalogSignature:
    """What changes whenever a table or an index is created or dropped (tables, indexes)."""
    return len(catalog.table_numbers), len(catalog.indexes)


@dataclass(frozen=True, slots=True)
class RerunRequest:
    """One query to run: everything the serving process knows of its subscription's call."""

    path: str
    args: dict[str, Value]
    identity: Identity | None
    journal: str | None
    connection: Connection


@dataclass(frozen=True, slots=True)
class RerunOutcome:
    """One query's outcome, as the wire will carry it."""

    encoded: bytes | None  # the value as wire JSON, when it succeeded
    failure_detail: str | None  # else the failure's message (no request id)
    failure_data: bytes | None  # and its ConvexError data as JSON, if any
    log_lines: list[str]
    journal: str | None
    read_set: ReadSet | None
    cpu_s: float  # CPU time the run took in its process
    over_budget: bool = False  # stopped at ``knobs.RERUN_PROCESS_BUDGET_S``: nothing else is set


@dataclass(frozen=True, slots=True)
class RerunBatch:
    """The outcomes of one batch, in request order, all read at snapshot ``ts``."""

    ts: int
    outcomes: list[RerunOutcome]


class RerunProcesses:
    """The worker processes of one server (see the module docstring)."""

    def __init__(self, executor: Executor, count: int) -> None:
        self.count = count
        self._executor = executor
        self._pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(str(executor.app.root), str(executor.database.path.parent), executor.database.database_url),
        )
        # Each process loads the app before it answers; until one has, re-runs stay on the loop.
        self._warm_up: list[Future[None]] = [self._pool.submit(_ready) for _ in range(count)]

    @property
    def ready(self) -> bool:
        """Whether a process has started (a failed start counts: the batch sent then reports it)."""
        return any(future.done() for future in self._warm_up)

    async def run(self, requests: list[RerunRequest]) -> RerunBatch:
        """Run ``requests`` in one process, in one snapshot; raises if the process or runtime failed."""
        executor = self._executor
        signature = catalog_signature(executor.database.catalog)
        future = self._pool.submit(
            _run_batch, requests, signature, executor.cloud_url, executor.site_url, knobs.RERUN_PROCESS_BUDGET_S
        )
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the processes; batches under way are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- inside a worker process ------------------------------------------------------------------
_worker: Executor | None = None


def _start_worker(app_root: str, data_dir: str, database_url: str | None) -> None:
    global _worker
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="opencom-parent-watch", daemon=True).start()
    app = load_app(app_root)
    database = Database.open_reader(Path(data_dir), app.schema, database_url=database_url)
    _worker = Executor(app, database)
    _worker.run_scheduled_jobs = False
    tune_garbage_collection()  # re-runs allocate as much as requests do: the server's collector settings


def _exit_with_parent(parent: int) -> None:
    """End this process once the server that started it is gone (killed outright, it cannot say so)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL_S)
    os._exit(0)


def _ready() -> None:
    """Nothing: answered once the process has started."""


def _run_batch(
    requests: list[RerunRequest], signature: CatalogSignature, cloud_url: str, site_url: str, budget: float
) -> RerunBatch:
    executor = _worker
    assert executor is not None, "the worker process did not start"
    executor.cloud_url, executor.site_url = cloud_url, site_url
    database = executor.database
    with database.snapshot() as ts:
        if catalog_signature(database.catalog) != signature:
            database.follow_catalog()
        return RerunBatch(ts, [_run_one(executor, request, budget) for request in requests])


def _run_one(executor: Executor, request: RerunRequest, budget: float) -> RerunOutcome:
    began = time.thread_time()
    try:
        function = executor.app.lookup(request.path, kind="query", allow_internal=True)
    except Exception as error:  # noqa: BLE001 - the serving process found it: only new code can lose it
        return _failed(error, [], None, began)
    try:
        outcome = executor.run_query(
            function,
            request.args,
            identity=request.identity,
            journal=request.journal,
            connection=request.connection,
            budget=budget,
        )
    except LoopBudgetSpent:
        return RerunOutcome(None, None, None, [], None, None, time.thread_time() - began, over_budget=True)
    if outcome.error is not None:
        return _failed(outcome.error, outcome.log_lines, outcome.read_set, began)
    encoded = wire_json.encode(outcome.value)
    cpu = time.thread_time() - began
    return RerunOutcome(encoded, None, None, outcome.log_lines, outcome.journal, outcome.read_set, cpu)


def _failed(error: BaseException, log_lines: list[str], read_set: ReadSet | None, began: float) -> RerunOutcome:
    failure = describe(error)
    data = bytes(failure.data) if failure.data is not UNSET else None
    return RerunOutcome(None, failure.detail, data, log_lines, None, read_set, time.thread_time() - began)
