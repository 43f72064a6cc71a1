"""One function execution's view of the database: reads, writes, read set, write set, limits.

A transaction works directly on one SQLite connection inside an open SQLite transaction (a
savepoint per mutation), so its own writes are visible to its own reads in index order for free,
and a rollback is SQLite's. It records every index interval it reads (the read set) and every
document it changes (the write set), and enforces Convex's per-transaction limits.

A mutation too long for the writer runs instead in a ``BufferedTransaction`` (``runtime.database.write_buffer``)
against a read snapshot, its writes kept in memory: the few steps that differ are methods here that
it overrides (creating a table, text indexing, savepoints).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from runtime import knobs
from runtime.database.read_set import DocumentWrite, Interval, ReadSet, point_interval
from runtime.database.return_values import StoredDocuments
from runtime.function_clock import function_time, function_time_bound
from runtime.store import Rows
from runtime.store.catalog import BY_ID, FIRST_USER_TABLE_NUMBER, Catalog, IndexInfo
from runtime.store.sqlite import decode_document, encode_document
from runtime.time_limit import timeout_message
from runtime.values.errors import ConvexValueError, InvalidIdError, LimitExceededError
from runtime.values.ids import decode_id, new_id
from runtime.values.keys import encode_value
from runtime.values.validators import identifier_error
from runtime.values.values import UNDEFINED, Value, check_value, display, value_size, values_equal

if TYPE_CHECKING:
    from runtime.values.schema import SchemaDefinition


class SearchIndexing(Protocol):
    """What a write uses of the database's search indexes (``runtime.database.search.SearchIndexes``)."""

    def on_write(
        self, connection: Any, table_number: int, old: dict[str, Value] | None, new: dict[str, Value] | None
    ) -> None: ...


class TransactionSource(Protocol):
    """What a transaction, and code holding one, use of the ``runtime.database.database.Database`` that opened it."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def schema(self) -> SchemaDefinition | None: ...

    @property
    def search_indexes(self) -> SearchIndexing: ...

    def validate_document(self, table: str, fields: dict[str, Value]) -> None: ...

    def create_table(self, rows: Rows, name: str) -> int: ...

    def next_creation_time(self, *, lent: bool = False) -> float: ...


_LIMIT_HINT = (
    "Consider using smaller limits in your queries, paginating your queries, or using indexed queries "
    "with a selective index range expressions."
)


class Metrics:
    """Usage counted against the limits of convex-semantics §4.4 (system tables excluded).

    Bytes are Convex sizes (``getConvexSize``, §1.5), as the limits are defined on them.
    """

    __slots__ = (
        "bytes_read",
        "bytes_written",
        "documents_read",
        "documents_written",
        "functions_scheduled",
        "scheduled_args_bytes",
    )

    def __init__(self) -> None:
        self.documents_read = 0
        self.bytes_read = 0
        self.documents_written = 0
        self.bytes_written = 0
        self.functions_scheduled = 0
        self.scheduled_args_bytes = 0

    def written(self) -> tuple[int, int, int, int]:
        """The write-side counters, which a rolled-back sub-transaction gives back (see ``restore_written``)."""
        return self.documents_written, self.bytes_written, self.functions_scheduled, self.scheduled_args_bytes

    def restore_written(self, saved: tuple[int, int, int, int]) -> None:
        """Undo the writes counted since ``written()``; reads stay counted, as they were observed."""
        self.documents_written, self.bytes_written, self.functions_scheduled, self.scheduled_args_bytes = saved


class Transaction:
    """Reads (and, if ``writable``, writes) at one snapshot; see the module docstring."""

    def __init__(self, database: TransactionSource, rows: Rows, ts: int, *, writable: bool) -> None:
        self.database = database
        self.catalog = database.catalog
        self.rows = rows
        self.ts = ts  # the snapshot timestamp this transaction reads at
        self.writable = writable
        self.read_set = ReadSet()
        self.writes: list[DocumentWrite] = []
        self.metrics = Metrics()
        # The time limit counts CPU time of this thread, where function code runs: a loaded machine
        # that leaves the function waiting for a CPU must not make it fail.
        # It may be moved later (a run that starts over elsewhere), never earlier.
        self.deadline = function_time_bound() + knobs.QUERY_TIME_LIMIT_S
        # Before this ``time.perf_counter`` instant the CPU clock cannot have reached ``deadline``: a
        # thread's CPU time grows no faster than wall time.
        self._clock_check_at = time.perf_counter() + knobs.QUERY_TIME_LIMIT_S
        self._savepoints = 0
        # Scans not closed yet; closing records their intervals (see ``close_scans``).
        self.open_scans: list[IndexScan] = []
        # Every (index id, interval) already in the read set, so repeated reads are recorded once.
        self._recorded: set[tuple[int, Interval]] = set()
        # The stored bytes of every document handed out: results need not re-check those (see return_values).
        self.stored_documents: StoredDocuments = {}

    # --- limits -----------------------------------------------------------------------------
    def check_time(self) -> None:
        """Stop a function past its time limit at a database call.

        The watchdog (``runtime.time_limit``) stops it wherever it is; this is the check at a safe
        point. Reading a thread's CPU clock is a system call, made while holding the interpreter
        lock, and on a loaded machine one can cost the thread its time slice; so the CPU clock is
        read only once the wall clock says the deadline may have passed.
        """
        if time.perf_counter() < self._clock_check_at:
            return
        left = self.deadline - function_time()
        if left < 0:
            raise LimitExceededError(timeout_message(knobs.QUERY_TIME_LIMIT_S))
        self._clock_check_at = time.perf_counter() + left

    def _count_read(self, table_number: int, size: int) -> None:
        if table_number >= 10001:
            self.metrics.documents_read += 1
            self.metrics.bytes_read += size
        self._check_reads()

    def _check_reads(self) -> None:
        if self.metrics.documents_read > knobs.MAX_DOCUMENTS_READ:
            raise LimitExceededError(
                f"Too many documents read in a single function execution (limit: {knobs.MAX_DOCUMENTS_READ}). {_LIMIT_HINT}"
            )
        if self.metrics.bytes_read > knobs.MAX_BYTES_READ:
            raise LimitExceededError(
                f"Too many bytes read in a single function execution (limit: {knobs.MAX_BYTES_READ} bytes). {_LIMIT_HINT}"
            )

    def record_interval(self, index: IndexInfo, interval: Interval) -> None:
        # The same range read twice (a document got, then patched) is one range, as in Convex.
        entry = (index.index_id, interval)
        if entry in self._recorded:
            return
        self._recorded.add(entry)
        self.read_set.add(index.index_id, interval)
        if len(self._recorded) > knobs.MAX_INDEX_RANGES:
            raise LimitExceededError(
                f"Too many reads in a single function execution (limit: {knobs.MAX_INDEX_RANGES}). {_LIMIT_HINT}"
            )

    def _count_write(self, table_number: int, size: int) -> None:
        if table_number < 10001:
            return
        self.metrics.documents_written += 1
        self.metrics.bytes_written += size
        if self.metrics.documents_written > knobs.MAX_DOCUMENTS_WRITTEN:
            raise LimitExceededError(f"Too many writes in a single function execution (limit: {knobs.MAX_DOCUMENTS_WRITTEN})")
        if self.metrics.bytes_written > knobs.MAX_BYTES_WRITTEN:
            raise LimitExceededError(
                f"Too many bytes written in a single function execution (limit: {knobs.MAX_BYTES_WRITTEN >> 20} MiB)"
            )

    # --- ids and tables ---------------------------------------------------------------------
    def table_of_id(self, doc_id: object, method: str) -> tuple[int, str | None]:
        """Decode ``doc_id``: (table number, table name or None when no such table exists)."""
        if not isinstance(doc_id, str):
            raise ConvexValueError(
                f"Invalid argument `id` for `{method}`, expected string but got '{type(doc_id).__name__}': {doc_id!r}"
            )
        table_number, _ = decode_id(doc_id)
        return table_number, self.catalog.table_name(table_number)

    def normalize_id(self, table: str, doc_id: object) -> str | None:
        """``doc_id`` if it is a valid id of ``table``, else None (never checks existence)."""
        table_number = self.catalog.table_numbers.get(table)
        if table_number is None or not isinstance(doc_id, str):
            return None
        try:
            return doc_id if decode_id(doc_id)[0] == table_number else None
        except InvalidIdError:
            return None

    # --- reads ------------------------------------------------------------------------------
    def get(self, doc_id: str, *, system: bool = False, method: str = "db.get") -> dict[str, Value] | None:
        """The document with ``doc_id`` (pending writes included) or None; a point read."""
        table_number, table_name = self.table_of_id(doc_id, method)
        if table_name is not None and table_name.startswith("_") != system:
            if system:
                raise ConvexValueError("User tables cannot be accessed with db.system.")
            raise ConvexValueError("System tables can only be accessed with db.system.")
        if table_name is None:
            return None
        self.check_time()
        by_id = self.catalog.index(table_number, BY_ID)
        assert by_id is not None
        self.record_interval(by_id, point_interval(encode_value(doc_id)))
        row = self.rows.get_sized(doc_id)
        if row is None:
            return None
        body, size = row
        self._count_read(table_number, size)
        self.stored_documents[body] = size
        return decode_document(body)

    def scan(self, index: IndexInfo, interval: Interval, *, descending: bool, batch: int | None = None) -> IndexScan:
        """A lazy scan of ``interval`` of ``index``; its read set is recorded when it is closed.

        ``batch`` is how many rows the caller expects to pull (``first()`` wants one), so the first
        round trip fetches no more than that; later ones grow.
        """
        scan = IndexScan(self, index, interval, descending, batch)
        self.open_scans.append(scan)
        return scan

    def close_scans(self) -> None:
        """Record what every scan covered, including iterations abandoned half-way."""
        for scan in self.open_scans:
            scan.close()
        self.open_scans.clear()

    # --- writes -----------------------------------------------------------------------------
    def _require_writable(self) -> None:
        if not self.writable:
            raise ConvexValueError("Writes are not allowed in queries: use a mutation to change the database")

    def insert(self, table: str, value: dict[str, Value], *, system: bool = False) -> str:
        """Insert a new document and return its id."""
        self._require_writable()
        if not isinstance(table, str):
            raise ConvexValueError(f"Invalid argument `table` for `db.insert`: expected a string, got {display(table)}")
        if table.startswith("_") and not system:
            raise ConvexValueError("System tables (prefixed with `_`) are read-only.")
        if not isinstance(value, dict):
            raise ConvexValueError("Invalid argument `value` for `db.insert`: Value must be an Object")
        table_number = self.catalog.table_numbers.get(table)
        if table_number is None:
            problem = identifier_error(table)
            if problem is not None:
                raise ConvexValueError(
                    f'Invalid argument `table` for `db.insert`: invalid table name "{table}". {problem}'
                )
            table_number = self._create_table(table)
        doc_id = new_id(table_number)
        if "_id" in value:
            raise ConvexValueError(f"Provided document ID {doc_id} doesn't match '_id' field {display(value['_id'])}")
        creation_time = self._next_creation_time()
        if "_creationTime" in value:
            raise ConvexValueError(
                f"Provided creation time {creation_time} doesn't match '_creationTime' field {display(value['_creationTime'])}"
            )
        document = {"_id": doc_id, "_creationTime": creation_time}
        document.update(self._checked_fields(table, value, system))
        # An insert is a write only: its new id is not a read range (§4.4).
        self._write(table_number, doc_id, None, document)
        return doc_id

    def patch(self, doc_id: str, partial: dict[str, Value], *, system: bool = False) -> None:
        """Shallow-merge ``partial`` into the document; ``UNDEFINED`` values remove fields."""
        old, table_number, table_name = self._existing(doc_id, "db.patch", "Update", system)
        if not isinstance(partial, dict):
            raise ConvexValueError("Invalid argument `value` for `db.patch`: Value must be an Object")
        self._check_system_fields(old, partial)
        merged = dict(old)
        for key, item in partial.items():
            if key in ("_id", "_creationTime"):
                continue
            if item is UNDEFINED:
                merged.pop(key, None)
            else:
                merged[key] = item
        user_fields = {key: item for key, item in merged.items() if key not in ("_id", "_creationTime")}
        new = {"_id": old["_id"], "_creationTime": old["_creationTime"], **self._checked_fields(table_name, user_fields, system)}
        if not values_equal(old, new):
            self._write(table_number, doc_id, old, new)

    def replace(self, doc_id: str, value: dict[str, Value], *, system: bool = False) -> None:
        """Replace every user field of the document; system fields are kept."""
        old, table_number, table_name = self._existing(doc_id, "db.replace", "Replace", system)
        if not isinstance(value, dict):
            raise ConvexValueError("Invalid argument `value` for `db.replace`: Value must be an Object")
        self._check_system_fields(old, value)
        user_fields = {key: item for key, item in value.items() if key not in ("_id", "_creationTime")}
        new = {"_id": old["_id"], "_creationTime": old["_creationTime"], **self._checked_fields(table_name, user_fields, system)}
        if not values_equal(old, new):
            self._write(table_number, doc_id, old, new)

    def delete(self, doc_id: str, *, system: bool = False) -> None:
        """Remove the document."""
        old, table_number, _ = self._existing(doc_id, "db.delete", "Delete", system)
        self._write(table_number, doc_id, old, None)

    def _existing(self, doc_id: str, method: str, verb: str, system: bool) -> tuple[dict[str, Value], int, str]:
        self._require_writable()
        table_number, table_name = self.table_of_id(doc_id, method)
        if table_name is None:
            raise ConvexValueError(f'Table for ID "{doc_id}" not found')
        if table_name.startswith("_") and not system:
            raise ConvexValueError("System tables (prefixed with `_`) are read-only.")
        old = self.get(doc_id, system=system, method=method)
        if old is None:
            raise ConvexValueError(f"{verb} on nonexistent document ID {doc_id}")
        return old, table_number, table_name

    @staticmethod
    def _check_system_fields(old: dict[str, Value], value: dict[str, Value]) -> None:
        if "_id" in value and value["_id"] != old["_id"]:
            raise ConvexValueError(f"Provided document ID {old['_id']} doesn't match '_id' field {display(value['_id'])}")
        if "_creationTime" in value and not values_equal(value["_creationTime"], old["_creationTime"]):
            raise ConvexValueError(
                f"Provided creation time {old['_creationTime']} doesn't match '_creationTime' field "
                f"{display(value['_creationTime'])}"
            )

    def _checked_fields(self, table: str, fields: dict[str, Value], system: bool) -> dict[str, Value]:
        """Validate user fields: value rules, underscore rule, schema; drop UNDEFINED fields."""
        clean = {key: item for key, item in fields.items() if item is not UNDEFINED}
        for key in clean:
            if key.startswith("_") and not system:
                raise ConvexValueError(
                    f"Field '{key}' starts with an underscore, which is only allowed for system fields like '_id'"
                )
        check_value(clean, max_depth=knobs.MAX_DOCUMENT_NESTING)
        self.database.validate_document(table, clean)
        return clean

    def _write(self, table_number: int, doc_id: str, old: dict[str, Value] | None, new: dict[str, Value] | None) -> None:
        self.check_time()
        size = 0  # a delete writes no bytes
        if new is not None:
            size = value_size(new)
            if size > knobs.MAX_DOCUMENT_SIZE:
                raise ConvexValueError(
                    f"Value is too large ({size} bytes > maximum size {knobs.MAX_DOCUMENT_SIZE} bytes) in document {doc_id}"
                )
        self._count_write(table_number, size)
        self.apply_write(table_number, doc_id, old, new, size=size)

    def apply_write(
        self,
        table_number: int,
        doc_id: str,
        old: dict[str, Value] | None,
        new: dict[str, Value] | None,
        *,
        size: int | None = None,
    ) -> None:
        """Store one document change: its index entries, search indexes and the write set.

        No validation and no limits: ``insert``/``patch``/``replace``/``delete`` check those first,
        and bulk loads (``runtime.database.document_import``) check every document before writing any.
        ``size`` is the Convex size of ``new``, when the caller has measured it.
        """
        keys: list[tuple[int, bytes]] = []
        for index in self.catalog.stored_indexes.get(table_number, ()):
            old_key = index.key_of(old) if old is not None else None
            new_key = index.key_of(new) if new is not None else None
            if old_key == new_key:
                keys.append((index.index_id, old_key))  # type: ignore[arg-type]
                continue
            if old_key is not None:
                self.rows.delete_entry(index.index_id, old_key)
                keys.append((index.index_id, old_key))
            if new_key is not None:
                self.rows.put_entry(index.index_id, new_key, doc_id)
                keys.append((index.index_id, new_key))
        if new is None:
            self.rows.delete_document(doc_id)
        else:
            self.rows.put_document(doc_id, table_number, encode_document(new), size if size is not None else value_size(new))
        self._index_text(table_number, old, new)
        self.writes.append(DocumentWrite(table_number, doc_id, old, new, tuple(keys)))

    # --- what a transaction that buffers its writes does differently (runtime.database.write_buffer) ---
    def _create_table(self, table: str) -> int:
        """Create ``table`` for its first insert, in this transaction."""
        return self.database.create_table(self.rows, table)

    def _next_creation_time(self) -> float:
        return self.database.next_creation_time()

    def _index_text(self, table_number: int, old: dict[str, Value] | None, new: dict[str, Value] | None) -> None:
        """Keep the table's search indexes in step with one document write."""
        self.database.search_indexes.on_write(self.rows.connection, table_number, old, new)

    def search_connection(self, table_number: int) -> Any:
        """The connection a text search of ``table_number`` runs on (it sees this transaction's writes)."""
        return self.rows.connection

    def _savepoint(self, name: str) -> None:
        self.rows.connection.execute(f"SAVEPOINT {name}")

    def _roll_back_to(self, name: str) -> None:
        self.rows.connection.execute(f"ROLLBACK TO {name}")
        self.rows.connection.execute(f"RELEASE {name}")

    def _release(self, name: str) -> None:
        self.rows.connection.execute(f"RELEASE {name}")

    @contextmanager
    def subtransaction(self) -> Iterator[None]:
        """A nested mutation: if the block raises, only the block's writes are undone."""
        self._savepoints += 1
        name = f"nested_{self._savepoints}"
        self._savepoint(name)
        writes_before = len(self.writes)
        tables_before = len(self.catalog.table_names)
        written_before = self.metrics.written()
        try:
            yield
        except BaseException:
            self._roll_back_to(name)
            del self.writes[writes_before:]
            self.metrics.restore_written(written_before)
            if len(self.catalog.table_names) != tables_before:
                self.catalog.load(self.rows)
            raise
        finally:
            self._savepoints -= 1
        self._release(name)

    def coalesced_writes(self) -> tuple[DocumentWrite, ...]:
        """One write per document: its first old version and last new version.

        A document that ends as it began (inserted then deleted, or changed and changed back) was
        not written at all.
        """
        firsts: dict[str, DocumentWrite] = {}
        lasts: dict[str, DocumentWrite] = {}
        for write in self.writes:
            firsts.setdefault(write.doc_id, write)
            lasts[write.doc_id] = write
        merged = []
        for doc_id, first in firsts.items():
            last = lasts[doc_id]
            if first is last:
                merged.append(first)
                continue
            if first.old is None and last.new is None:
                continue
            if first.old is not None and last.new is not None and values_equal(first.old, last.new):
                continue
            keys = dict.fromkeys(first.keys + last.keys)
            merged.append(DocumentWrite(first.table_number, doc_id, first.old, last.new, tuple(keys)))
        return tuple(merged)


class IndexScan:
    """Rows of one index interval in key order, fetched in batches, recording what it covered.

    Only the rows actually pulled are part of the read set: a ``first()`` covers up to its row.
    """

    def __init__(
        self, transaction: Transaction, index: IndexInfo, interval: Interval, descending: bool, batch: int | None = None
    ) -> None:
        self.transaction = transaction
        self.index = index
        self.interval = interval
        self.descending = descending
        self.last_key: bytes | None = None
        self.bytes_pulled = 0  # Convex size of the rows pulled so far, as counted against the read limits
        self.exhausted = False
        self.closed = False
        self._first_batch = max(1, min(batch or knobs.SCAN_BATCH_ROWS, knobs.SCAN_MAX_BATCH_ROWS))
        self._rows: Iterator[tuple[bytes, dict[str, Value]]] | None = None
        # Reads of system tables do not count against the transaction limits.
        self.counts_reads = index.table_number >= FIRST_USER_TABLE_NUMBER

    def __iter__(self) -> Iterator[tuple[bytes, dict[str, Value]]]:
        """(key, document) pairs in scan order; a row counts as read when it is pulled.

        A scan is one pass: iterating it again continues where the previous iteration stopped.
        """
        if self._rows is None:
            self._rows = self._generate()
        return self._rows

    def _generate(self) -> Iterator[tuple[bytes, dict[str, Value]]]:
        # This loop runs once for every row any query scans, so it is kept flat, on local names.
        transaction = self.transaction
        metrics = transaction.metrics
        remember = transaction.stored_documents
        counted = self.counts_reads
        max_documents, max_bytes = knobs.MAX_DOCUMENTS_READ, knobs.MAX_BYTES_READ
        batch = self._first_batch
        while True:
            transaction.check_time()  # once per round trip
            rows = self._fetch(batch)
            for key, body, size in rows:
                self.last_key = key
                self.bytes_pulled += size
                if counted:
                    metrics.documents_read += 1
                    metrics.bytes_read += size
                    if metrics.documents_read > max_documents or metrics.bytes_read > max_bytes:
                        transaction._check_reads()
                remember[body] = size
                yield key, decode_document(body)
            if len(rows) < batch or self.closed:
                # A short batch means the interval holds nothing more: no need to ask again.
                if not self.closed:
                    self.exhausted = True
                return
            batch = min(batch * 2, knobs.SCAN_MAX_BATCH_ROWS)

    def _fetch(self, limit: int) -> list[tuple[bytes, bytes, int]]:
        """Up to ``limit`` (key, body, size) rows after the last one pulled."""
        low, high = self.interval.low, self.interval.high
        if self.last_key is not None:
            if self.descending:
                high = self.last_key
            else:
                low = self.last_key + b"\x00"
        return self.transaction.rows.scan(self.index.index_id, low, high, descending=self.descending, limit=limit)

    def covered(self) -> Interval:
        """The part of the interval this scan has looked at so far."""
        if self.exhausted:
            return self.interval
        if self.last_key is None:
            # Nothing pulled yet: an empty interval at the start of the scan.
            start = self.interval.high if self.descending and self.interval.high is not None else self.interval.low
            return Interval(start, start)
        if self.descending:
            return Interval(self.last_key, self.interval.high)
        return Interval(self.interval.low, self.last_key + b"\x00")

    def close(self) -> None:
        """Stop scanning and add the covered interval to the transaction's read set (once)."""
        if self.closed:
            return
        self.closed = True
        covered = self.covered()
        if covered.high is None or covered.low < covered.high:
            self.transaction.record_interval(self.index, covered)

