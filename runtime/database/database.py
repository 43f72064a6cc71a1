"""The database: snapshot reads, serializable mutations with group commit, commit timestamps.

Concurrency policy (the whole of it):

- Function code runs on the event loop thread and never suspends inside a query or mutation, so
  each execution is one uninterrupted run of Python against a SQLite connection; no ``ctx.db``
  call pays a thread hop. A function past the loop's CPU budget runs again on a worker thread
  (``runtime.database.off_loop``): a mutation beside the writer at a snapshot, its buffered writes replayed
  by the writer once checked against ``recent_commits`` (``runtime.database.optimistic``), or, when only the
  writer can run it, inside the writer's transaction (its body raises ``OffLoop``; the writer awaits it).
- Queries use the reader connection, each inside one SQLite read transaction: one consistent
  snapshot, whose timestamp is read from the snapshot itself.
- Mutations go through one queue to one writer, which runs them one at a time in commit order
  (serializable by construction), each in its own savepoint, and commits everything it ran in one
  SQLite transaction on a worker thread (group commit). A mutation's caller hears back only after
  that commit is durable; a mutation that raised is rolled back to its savepoint and leaves
  nothing behind.
- WAL checkpoints run on their own connection and thread, once the WAL has grown past
  ``knobs.CHECKPOINT_WAL_BYTES`` (SQLite's own threshold), so no caller waits for one.
- Every mutation that wrote gets a strictly increasing int64 timestamp (nanoseconds, never below
  the last one stored), persisted in the same commit, so timestamps survive restarts.
- A client mutation's receipt (``runtime.store.receipts``) is stored in the commit that holds its writes,
  and looked up, for one that may have run before, in the transaction that would run it again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runtime import clock, knobs, store
from runtime.database.document_import import ImportMode, plan_import, write_import
from runtime.database.off_loop import OffLoop
from runtime.database.read_set import Commit
from runtime.database.recent_commits import RecentCommits
from runtime.database.schema_change import check_stored_documents
from runtime.database.search import SearchIndexes
from runtime.database.transaction import Transaction
from runtime.store import Rows, sqlite
from runtime.store.catalog import BY_CREATION_TIME, BY_ID, SYSTEM_TABLE_NUMBERS, Catalog
from runtime.store.receipts import AlreadyCommitted, Receipt, ReceiptKey, RecordedOutcome, decode_outcome
from runtime.store.sqlite import decode_document
from runtime.store.wal_check import WalReport, inspect_wal
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.values.schema import SchemaDefinition

logger = logging.getLogger("opencom.database")
T = TypeVar("T")
DATABASE_FILE = "opencom.sqlite3"


@dataclass(slots=True)
class MutationResult(Generic[T]):
    """What a committed mutation returned, and the commit timestamp its effects are visible at."""

    value: T
    ts: int
    transaction: Transaction


@dataclass(slots=True)
class _Job:
    body: Callable[[Transaction], Any]
    future: asyncio.Future[MutationResult[Any]]
    receipt: Receipt | None


CommitListener = Callable[[list[Commit]], None]


class DamagedDatabaseError(Exception):
    """The database file cannot be read: the message says which file and what to do."""


def report_damaged_wal(path: Path) -> WalReport | None:
    """Check ``path``'s WAL before SQLite replays it, and say loudly if frames will be lost."""
    report = inspect_wal(wal_path(path))
    if report is not None and report.damaged:
        logger.error(
            "THE WRITE-AHEAD LOG OF %s IS DAMAGED: %d frame(s) dropped (%s); %d frame(s) recovered. "
            "Writes acknowledged before the damage may be missing. Run `opencom check` for details.",
            path,
            report.dropped_frames,
            report.problem,
            report.replayed_frames,
        )
    return report


def wal_path(path: Path) -> Path:
    """Where SQLite keeps the write-ahead log of the database file ``path``."""
    return path.with_name(path.name + "-wal")


@dataclass(slots=True)
class Snapshot:
    """A read transaction held open on its own connection (see ``Database.open_snapshot``)."""

    rows: Rows
    ts: int

    def close(self) -> None:
        if self.rows.connection.in_transaction:
            self.rows.connection.execute("COMMIT")


class Database:
    """One SQLite file in a data directory; see the module docstring for the concurrency policy."""

    def __init__(
        self,
        data_dir: Path,
        schema: SchemaDefinition | None = None,
        *,
        synchronous: str | None = None,
        database_url: str | None = None,
    ) -> None:
        """Open the deployment in ``data_dir``; its rows go to PostgreSQL when ``database_url`` (or
        ``OPENCOM_DATABASE_URL``) names one, else to the SQLite file in ``data_dir`` (``runtime.store``)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DATABASE_FILE
        self.schema = schema
        self.database_url = store.database_url(database_url)
        if self.database_url is None:
            report_damaged_wal(self.path)
        try:
            opened = store.open_store(self.path, self.database_url, synchronous=synchronous or knobs.SQLITE_SYNCHRONOUS)
            self._writer_connection, self._reader_connection = opened.writer_connection, opened.reader_connection
            self._writer_rows, self._reader_rows = opened.writer_rows, opened.reader_rows
            # A second reader for snapshots held open across loop steps (``open_snapshot``).
            self._pinned_connection, self._pinned_rows = opened.pinned_connection, opened.pinned_rows
            self._pinned: Snapshot | None = None
            self.catalog = Catalog()
            self.catalog.load(self._writer_rows)
            # Highest timestamp handed out (committed, or committing in the current group).
            self.last_ts: int = int(self._writer_rows.get_meta("ts") or 0)
            # Timestamp of the last durable commit: no reader's snapshot is older once it opens.
            self.committed_ts: int = self.last_ts
            self._creation_time: float = float(self._writer_rows.get_meta("creation_time") or 0.0)
        except store.StoreError:
            raise  # PostgreSQL failed: no file is damaged
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._commit_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opencom-commit")
        # Checkpoints (copying the WAL back into the file, with its own fsync) run on their own
        # connection and thread, never inside a commit whose callers are waiting.
        self._checkpoint_connection: sqlite3.Connection | None = None
        if self.database_url is None:  # PostgreSQL checkpoints by itself
            self._writer_connection.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoint_connection = sqlite.connect(self.path, synchronous=synchronous or knobs.SQLITE_SYNCHRONOUS)
        self._checkpoint_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opencom-checkpoint")
        self._checkpoint: Future[Any] | None = None
        self._checkpointed_at = 0.0
        self._listeners: list[CommitListener] = []
        # The newest commit handed to the listeners (this server's or, on PostgreSQL, another's).
        self._delivered_ts = self.last_ts
        self._feed = self._open_feed()
        # What recent commits wrote, for mutations run off the writer to be checked against (runtime.database.optimistic).
        self.recent_commits = RecentCommits()
        # Creation times are also handed out on worker threads (runtime.database.optimistic); one taken there is
        # never handed out again, even when the writer rewinds its own after a failed mutation.
        self._creation_lock = threading.Lock()
        self._creation_lent: float = 0.0
        self._snapshot_depth = 0
        self._snapshot_ts = 0
        self.search_indexes = SearchIndexes()
        self._receipts_pruned_at = time.monotonic()  # old receipts are deleted now and then (runtime.store.receipts)
        try:
            self.apply_schema(schema)
        except store.StoreError:
            raise
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None

    @classmethod
    def open_reader(cls, data_dir: Path, schema: SchemaDefinition | None, *, database_url: str | None) -> Database:
        """The deployment in ``data_dir`` opened for reads only, by another process that runs its queries.

        It has one reader connection (``snapshot``, ``read_transaction``) and no writer: it creates
        nothing, and the serving process must have opened the store first. ``follow_catalog``
        catches up with tables and indexes created since.
        """
        database = cls.__new__(cls)
        database.path = data_dir / DATABASE_FILE
        database.schema = schema
        database.database_url = store.database_url(database_url)
        rows: Any  # SQLite's or PostgreSQL's, which share one interface (runtime.store)
        if database.database_url is None:
            rows = sqlite.Rows(sqlite.connect(database.path))
        else:
            from runtime.store import postgres  # psycopg is only imported by deployments that use it

            rows = postgres.PgRows(postgres.connect(database.database_url))
        database._reader_connection, database._reader_rows = rows.connection, rows
        database._pinned = None
        database._snapshot_depth = database._snapshot_ts = 0
        database._listeners = []
        database.catalog = Catalog()
        database.search_indexes = SearchIndexes()
        database.follow_catalog()
        database.last_ts = database._snapshot_ts
        return database

    def follow_catalog(self) -> None:
        """Load the tables and indexes of the latest snapshot (or the open one): a reader's catalog."""
        with self.snapshot():
            self.catalog.load(self._snapshot_rows())
            self.search_indexes.follow(self.schema, self.catalog.table_numbers)

    def _damaged(self, error: sqlite3.DatabaseError) -> DamagedDatabaseError:
        return DamagedDatabaseError(
            f"The database {self.path} is damaged and cannot be opened ({error}). Run `opencom check` on its "
            "data directory, and restore it from a snapshot export if the check fails."
        )

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer task on the running loop (idempotent)."""
        if self._writer_task is None:
            self._queue = asyncio.Queue()
            self._writer_task = asyncio.get_running_loop().create_task(self._run_writer(), name="opencom-writer")
            if self._feed is not None:
                self._feed.start(self._adopt, lambda: self._delivered_ts)

    async def close(self) -> None:
        """Finish queued mutations, stop the writer and close the file."""
        if self._writer_task is not None and self._queue is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        if self._feed is not None:
            await self._feed.close()
        self._commit_thread.shutdown(wait=True)
        self._checkpoint_thread.shutdown(wait=True)
        if self._checkpoint_connection is not None:
            self._checkpoint_connection.close()
        self._reader_connection.close()
        self._pinned_connection.close()
        self._writer_connection.close()

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` with every group of commits, after they are durable."""
        self._listeners.append(listener)

    # --- schema -----------------------------------------------------------------------------
    def apply_schema(self, schema: SchemaDefinition | None) -> None:
        """Create declared tables and indexes, backfill new indexes, drop undeclared ones."""
        self.schema = schema
        self._writer_connection.execute("BEGIN IMMEDIATE")
        try:
            self._catch_up()
            self._install_schema(schema)
            self._writer_connection.execute("COMMIT")
        except BaseException:
            self._writer_connection.execute("ROLLBACK")
            self.catalog.load(self._writer_rows)
            raise

    async def change_schema(self, schema: SchemaDefinition | None) -> None:
        """Switch a running database to ``schema`` (hot reload), as one step of the writer.

        Every stored document of every table ``schema`` validates is checked first: if any does not
        fit, ``SchemaChangeError`` names them and nothing changes. Otherwise the tables and indexes
        are installed as ``apply_schema`` does, and every later mutation validates against it.
        """

        def body(transaction: Transaction) -> None:
            check_stored_documents(transaction.rows, self.catalog, schema)
            connection = transaction.rows.connection
            # Our own savepoint: on failure the in-memory catalog and search indexes must be
            # rebuilt from the rolled-back rows before anyone else runs.
            connection.execute("SAVEPOINT schema_change")
            try:
                self._install_schema(schema)
            except BaseException:
                connection.execute("ROLLBACK TO schema_change")
                connection.execute("RELEASE schema_change")
                self.catalog.load(self._writer_rows)
                self.search_indexes.apply(connection, self.schema, self.catalog.table_numbers)
                raise
            connection.execute("RELEASE schema_change")
            self.schema = schema

        await self.mutate(body)

    def _install_schema(self, schema: SchemaDefinition | None) -> None:
        """The tables and indexes of ``schema``, inside the writer connection's open transaction."""
        rows = self._writer_rows
        for name in SYSTEM_TABLE_NUMBERS:
            if name not in self.catalog.table_numbers:
                self.catalog.create_table(rows, name)
        declared = schema.tables if schema is not None else {}
        for table_name, table in declared.items():
            table_number = self.catalog.table_numbers.get(table_name)
            if table_number is None:
                table_number = self.catalog.create_table(rows, table_name)
            wanted = {index.name: tuple(index.fields) for index in table.indexes}
            for info in list(self.catalog.stored_indexes.get(table_number, [])):
                if info.name in (BY_ID, BY_CREATION_TIME):
                    continue
                if wanted.get(info.name) != info.fields:
                    self.catalog.drop_index(rows, info)
            for name, fields in wanted.items():
                if self.catalog.index(table_number, name) is None:
                    info = self.catalog.add_index(rows, table_number, name, fields)
                    for body in rows.table_documents(table_number):
                        document = decode_document(body)
                        rows.put_entry(info.index_id, info.key_of(document), document["_id"])
        self.search_indexes.apply(self._writer_connection, schema, self.catalog.table_numbers)

    def validate_document(self, table: str, fields: dict[str, Value]) -> None:
        """Check a document's user fields against its table's validator, if the schema has one."""
        if self.schema is not None:
            self.schema.validate_document(table, fields, self.catalog)

    def create_table(self, rows: Rows, name: str) -> int:
        """Create a table on its first insert (inside the inserting mutation's transaction)."""
        return self.catalog.create_table(rows, name)

    def next_creation_time(self, *, lent: bool = False) -> float:
        """A ``_creationTime``: now in ms, but strictly after every one handed out before.

        ``lent``: for a mutation running off the writer, whose rewinds (``_rewind_creation_time``)
        must never go below it.
        """
        with self._creation_lock:
            now = clock.now_ms()
            self._creation_time = now if now > self._creation_time else math.nextafter(self._creation_time, math.inf)
            if lent:
                self._creation_lent = self._creation_time
            return self._creation_time

    def _rewind_creation_time(self, saved: float) -> None:
        """Forget creation times the writer handed out since ``saved`` (their mutation failed)."""
        with self._creation_lock:
            self._creation_time = max(saved, self._creation_lent)

    # --- reads ------------------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """Hold one consistent read snapshot open; yields its commit timestamp.

        Nested uses share the outer snapshot, so everything read inside belongs to one timestamp.
        """
        if self._snapshot_depth:
            self._snapshot_depth += 1
            try:
                yield self._snapshot_ts
            finally:
                self._snapshot_depth -= 1
            return
        self._reader_connection.execute("BEGIN")
        self._snapshot_depth = 1
        try:
            self._snapshot_ts = int(self._reader_rows.get_meta("ts") or 0)
            yield self._snapshot_ts
        finally:
            self._snapshot_depth = 0
            self._reader_connection.execute("COMMIT")

    @property
    def snapshot_open(self) -> bool:
        """Whether a caller holds ``snapshot()`` open: reads now must belong to its timestamp."""
        return self._snapshot_depth > 0

    def read_transaction(self, ts: int) -> Transaction:
        """A read-only transaction on the open snapshot (call inside ``snapshot()``)."""
        return Transaction(self, self._snapshot_rows(), ts, writable=False)

    def _snapshot_rows(self) -> Rows:
        return self._pinned.rows if self._pinned is not None else self._reader_rows

    def open_snapshot(self) -> Snapshot:
        """A read snapshot of the latest commit that stays open across loop steps, until ``close``.

        Work done in steps between which other mutations commit (subscription re-runs) still reads
        one state: enter it with ``use_snapshot`` in each step. One may be open at a time.
        """
        connection = self._pinned_connection
        connection.execute("BEGIN")
        try:
            ts = int(self._pinned_rows.get_meta("ts") or 0)  # the first read fixes the snapshot
        except BaseException:
            connection.execute("COMMIT")
            raise
        return Snapshot(self._pinned_rows, ts)

    @contextmanager
    def use_snapshot(self, snapshot: Snapshot) -> Iterator[int]:
        """Inside this block, ``snapshot()`` (and so every query run) reads ``snapshot``; yields its ts."""
        assert self._snapshot_depth == 0, "a snapshot is already open"
        self._pinned, self._snapshot_ts, self._snapshot_depth = snapshot, snapshot.ts, 1
        try:
            yield snapshot.ts
        finally:
            self._pinned, self._snapshot_depth = None, 0

    def count_documents(self, table: str) -> int:
        """How many documents ``table`` holds in the latest committed state."""
        table_number = self.catalog.table_numbers.get(table)
        if table_number is None:
            return 0
        with self.snapshot():
            by_creation = self.catalog.index(table_number, BY_CREATION_TIME)
            assert by_creation is not None
            return self._snapshot_rows().count_entries(by_creation.index_id)

    # --- writes -----------------------------------------------------------------------------
    async def mutate(self, body: Callable[[Transaction], T], receipt: Receipt | None = None) -> MutationResult[T]:
        """Run ``body`` as one serializable transaction; return once its commit is durable.

        If ``body`` raises, its writes are discarded and the exception propagates. With ``receipt``
        (a client's mutation), its receipt is stored with its writes, and if it may have run before
        and did commit, ``body`` does not run: ``AlreadyCommitted`` carries the first outcome.
        """
        if self._queue is None:
            await self.start()
        assert self._queue is not None
        future: asyncio.Future[MutationResult[T]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(body, future, receipt))  # type: ignore[arg-type]  # unbounded: never blocks
        return await future

    def queued_mutations(self) -> int:
        """Mutations waiting for the writer, not yet in a commit group (scheduled work defers to them)."""
        return 0 if self._queue is None else self._queue.qsize()

    async def import_documents(
        self,
        tables: Mapping[str, Sequence[dict[str, Value]]],
        *,
        mode: ImportMode = "require_empty",
        table_numbers: Mapping[str, int] | None = None,
    ) -> MutationResult[dict[str, int]]:
        """Load documents that keep their ``_id``/``_creationTime`` (a snapshot import), all in one transaction.

        Every document is checked before the first write (``runtime.database.document_import``); any problem
        raises ``ImportRejectedError`` and nothing is written. ``mode`` says what to do with tables
        that already hold documents: refuse (``require_empty``), ``append``, or ``replace`` them.
        Returns how many documents each table received.
        """

        def body(transaction: Transaction) -> dict[str, int]:
            plans = plan_import(tables, self.catalog, self.schema, table_numbers)
            latest = write_import(transaction, plans, mode)
            # New documents must still get strictly later creation times than the imported ones.
            self._creation_time = max(self._creation_time, latest)
            return {plan.name: len(plan.documents) for plan in plans}

        return await self.mutate(body)

    async def _run_writer(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            if job is None:
                return
            # Callers woken by the last commit are queued to run right now; let them enqueue their
            # next mutations first, so that this group shares one commit with them.
            await asyncio.sleep(0)
            batch = [job]
            while len(batch) < knobs.MAX_COMMIT_GROUP and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    await self._commit_or_fail(batch)
                    return
                batch.append(more)
            await self._commit_or_fail(batch)

    async def _commit_or_fail(self, batch: list[_Job]) -> None:
        """Commit ``batch``; if the store itself fails outside a mutation (a PostgreSQL connection
        lost at ``BEGIN`` or ``SAVEPOINT``), every caller still waiting hears the error, the
        in-memory state goes back to the last commit, and the writer keeps serving the queue."""
        ts_before, creation_before = self.last_ts, self._creation_time
        try:
            await self._commit_group(batch)
        except Exception as error:  # noqa: BLE001 - the store's failure is every waiting caller's
            ts_before = max(ts_before, self.committed_ts)  # other servers' commits adopted meanwhile stay
            self.last_ts = ts_before
            self._rewind_creation_time(creation_before)
            self.recent_commits.discard_after(ts_before)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            with suppress(Exception):  # the store may be unreachable: nothing more to undo then
                if self._writer_connection.in_transaction:
                    self._writer_connection.execute("ROLLBACK")
                self.catalog.load(self._writer_rows)

    def _start_checkpoint(self) -> None:
        """A passive checkpoint in the background once the WAL holds ``knobs.CHECKPOINT_WAL_BYTES``.

        At most one runs at a time, and one per ``knobs.CHECKPOINT_INTERVAL_S``.
        """
        if self._checkpoint_connection is None:
            return
        now = time.monotonic()
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        if now - self._checkpointed_at < knobs.CHECKPOINT_INTERVAL_S:
            return
        self._checkpointed_at = now
        try:
            if wal_path(self.path).stat().st_size < knobs.CHECKPOINT_WAL_BYTES:
                return
        except FileNotFoundError:
            return
        self._checkpoint = self._checkpoint_thread.submit(
            self._checkpoint_connection.execute, "PRAGMA wal_checkpoint(PASSIVE)"
        )

    def _next_ts(self) -> int:
        self.last_ts = max(time.time_ns(), self.last_ts + 1)
        return self.last_ts

    async def _commit_group(self, batch: list[_Job]) -> None:
        connection, rows = self._writer_connection, self._writer_rows
        outcomes: list[tuple[_Job, BaseException | None, Any, Transaction | None]] = []
        commits: list[Commit] = []
        await self._begin_group()
        ts_before = self.last_ts
        creation_before = self._creation_time
        # Whether a mutation that succeeded changed any row; a group of only failed or read-only
        # mutations must leave the file byte-for-byte as it was, so it writes no meta either.
        changed = False
        committed_before = self._committed_receipts(batch)
        receipts: list[tuple[ReceiptKey, int, bytes]] = []
        for job in batch:
            if job.future.cancelled():
                continue
            if job.receipt is not None and job.receipt.key in committed_before:
                outcomes.append((job, AlreadyCommitted(committed_before[job.receipt.key]), None, None))
                continue
            connection.execute("SAVEPOINT mutation")
            tables_before = len(self.catalog.table_names)
            changes_before = connection.total_changes
            creation_job_before = self._creation_time
            transaction = Transaction(self, rows, self.last_ts, writable=True)
            try:
                try:
                    value = job.body(transaction)
                except OffLoop as moved:
                    # Too long for the event loop: undo this attempt, await another on a worker
                    # thread, inside this transaction (see runtime.database.off_loop).
                    connection.execute("ROLLBACK TO mutation")
                    if len(self.catalog.table_names) != tables_before:
                        self.catalog.load(rows)
                    self._rewind_creation_time(creation_job_before)
                    changes_before = connection.total_changes
                    transaction = Transaction(self, rows, self.last_ts, writable=True)
                    value = await moved.rerun(transaction)
            except BaseException as error:  # noqa: BLE001 - every failure is the caller's to see
                connection.execute("ROLLBACK TO mutation")
                connection.execute("RELEASE mutation")
                if len(self.catalog.table_names) != tables_before:
                    self.catalog.load(rows)
                self._rewind_creation_time(creation_job_before)
                outcomes.append((job, error, None, None))
                continue
            connection.execute("RELEASE mutation")
            wrote = connection.total_changes != changes_before
            changed = changed or wrote
            writes = transaction.coalesced_writes()
            if writes:
                commits.append(Commit(self._next_ts(), writes))
                self.recent_commits.add(commits[-1])
            transaction.ts = self.last_ts
            if wrote and job.receipt is not None and job.receipt.outcome is not None:
                receipts.append((job.receipt.key, transaction.ts, job.receipt.outcome))
            outcomes.append((job, None, value, transaction))
        try:
            if changed:
                rows.set_meta("ts", self.last_ts)
                rows.set_meta("creation_time", self._creation_time)
                self._write_receipts(receipts)
                if self._feed is not None and commits:
                    self._feed.publish(rows, ts_before, commits)
                await asyncio.get_running_loop().run_in_executor(self._commit_thread, connection.execute, "COMMIT")
            else:
                connection.execute("COMMIT")  # nothing to make durable: no disk write, no thread hop
        except BaseException as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self.catalog.load(rows)
            self.last_ts = ts_before
            self._rewind_creation_time(creation_before)
            self.recent_commits.discard_after(ts_before)
            for job, failure, _, _ in outcomes:
                if not job.future.done():
                    # A receipt read in this transaction is of an earlier commit: still the answer.
                    job.future.set_exception(failure if isinstance(failure, AlreadyCommitted) else error)
            return
        self.committed_ts = self.last_ts
        self.recent_commits.durable(self.committed_ts)
        if changed:
            self._start_checkpoint()
        for job, failure, value, transaction in outcomes:
            if job.future.done():
                continue
            if failure is not None:
                job.future.set_exception(failure)
            else:
                assert transaction is not None
                job.future.set_result(MutationResult(value, transaction.ts, transaction))
        self.deliver_commits(commits)

    def _committed_receipts(self, batch: list[_Job]) -> dict[ReceiptKey, RecordedOutcome]:
        """The recorded outcomes of the mutations of ``batch`` that may have run before and did commit.

        Read inside the writer's transaction (on PostgreSQL, under the writers' lock), so a commit
        of the same mutation by any server is either seen here or comes after this group's.
        """
        keys = [job.receipt.key for job in batch if job.receipt is not None and job.receipt.may_have_run()]
        if not keys:
            return {}
        found = self._writer_rows.find_receipts(keys)
        return {key: decode_outcome(outcome, ts) for key, (ts, outcome) in found.items()}

    def _write_receipts(self, receipts: list[tuple[ReceiptKey, int, bytes]]) -> None:
        """This group's receipts, and, now and then, the deletion of those past their age."""
        if receipts:
            self._writer_rows.add_receipts(receipts)
        now = time.monotonic()
        if now - self._receipts_pruned_at >= knobs.MUTATION_RECEIPTS_KEPT_S / 10:
            self._receipts_pruned_at = now
            self._writer_rows.prune_receipts(self.last_ts - int(knobs.MUTATION_RECEIPTS_KEPT_S * 1e9))

    def deliver_commits(self, commits: list[Commit]) -> None:
        """Hand ``commits`` (durable, in timestamp order) to the listeners, except those already handed.

        This server's writer calls it after each commit; on PostgreSQL ``_adopt`` also calls it
        with other servers' commits, which may be new tables to this server's catalog.
        """
        fresh = [commit for commit in commits if commit.ts > self._delivered_ts]
        if not fresh:
            return
        self._delivered_ts = fresh[-1].ts
        self.last_ts = max(self.last_ts, self._delivered_ts)
        if any(write.table_number not in self.catalog.table_names for commit in fresh for write in commit.writes):
            self.catalog.load(self._reader_rows)
        for listener in self._listeners:
            listener(fresh)

    # --- several servers on one PostgreSQL database (``runtime.database.commit_feed``) --------------
    def _open_feed(self) -> Any:
        """The commit feed of a PostgreSQL store (None on SQLite: one process owns the file)."""
        if self.database_url is None:
            return None
        from runtime.database.commit_feed import CommitFeed  # psycopg only where PostgreSQL is used

        return CommitFeed(self.database_url)

    async def _begin_group(self) -> None:
        """Open the writer's transaction; on PostgreSQL, wait for the writers' lock off the event loop."""
        if self.database_url is None:
            self._writer_connection.execute("BEGIN IMMEDIATE")
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._commit_thread, self._writer_connection.execute, "BEGIN IMMEDIATE")
        self._catch_up()  # a failure here is rolled back by ``_commit_or_fail``

    def _catch_up(self) -> None:
        """Right after taking the writers' lock: adopt what other servers committed before us."""
        if self._feed is None:
            return
        state = self._feed.locked_state(self._writer_rows, self._delivered_ts)
        indexes = [info.index_id for info in self.catalog.indexes.values()]
        if state.catalog_shape != (len(self.catalog.table_names), len(indexes), max(indexes, default=0)):
            self.catalog.load(self._writer_rows)
        self.last_ts = max(self.last_ts, state.ts)
        self._creation_time = max(self._creation_time, state.creation_time)
        self._adopt(state.missed)

    def _adopt(self, commits: list[Commit]) -> None:
        """Other servers' commits (durable, in timestamp order): mutations run off the writer are
        checked against them too (``recent_commits``), then the listeners hear of them."""
        fresh = [commit for commit in commits if commit.ts > self._delivered_ts]
        if not fresh:
            return
        for commit in fresh:
            self.recent_commits.add(commit)
        self.committed_ts = max(self.committed_ts, fresh[-1].ts)
        self.recent_commits.durable(self.committed_ts)
        self.deliver_commits(fresh)
