"""``ctx.db.query(table)``: the query pipeline, its terminal operations and pagination.

A query is a source (an index interval, or the whole ``by_creation_time`` index), an order, and
filters, consumed by one terminal operation. It reads through ``IndexScan``, so only the rows it
actually pulled enter the read set. Pagination cursors are positions in the source index (an
index key, or "end") bound to a fingerprint of the query, so a cursor from another query is
refused rather than silently misread.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import operator
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.database.filters import Expression, as_boolean, build_filter
from runtime.database.index_range import IndexRangeBuilder, compile_range
from runtime.database.read_set import Interval
from runtime.database.search import SearchFilterBuilder, SearchPlan, plan_search, search_documents
from runtime.database.transaction import IndexScan, Transaction
from runtime.store.catalog import BY_CREATION_TIME, BY_ID, READABLE_SYSTEM_TABLES, IndexInfo, private_system_table
from runtime.values.errors import ConvexValueError, InvalidCursorError
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.functions.execution import Execution

_END = b"E"
_KEY = b"K"
_second = operator.itemgetter(1)


class Query:
    """A query over one table; every builder method returns a new query.

    ``ctx.db.query(table)`` itself may be used any number of times (Convex's query initializer);
    every query built from it is single-use, in Convex's states: ``preparing`` until a builder
    method or ``take``/``paginate`` takes it over (``closed``), or iteration starts (``executing``)
    and runs to its end (``consumed``).
    """

    def __init__(self, execution: Execution, table: str, *, system: bool) -> None:
        if table.startswith("_") and not system:
            raise ConvexValueError("System tables can only be accessed from db.system.query().")
        if system and not table.startswith("_"):
            raise ConvexValueError("User tables can only be accessed from db.query().")
        if system and table not in READABLE_SYSTEM_TABLES:
            raise ConvexValueError(private_system_table(table))
        self._execution = execution
        self._table = table
        self._index_name = BY_CREATION_TIME
        self._range: list[Any] = []
        self._order: str | None = None
        self._filters: list[Expression] = []
        self._search: tuple[str, SearchFilterBuilder] | None = None
        self._initializer = True
        self._state = "preparing"

    # --- building ---------------------------------------------------------------------------
    def _take(self) -> None:
        """Claim this query for a builder method, ``take`` or ``paginate`` (the initializer is never claimed)."""
        if self._initializer:
            return
        if self._state != "preparing":
            raise ConvexValueError("A query can only be chained once and can't be chained after iteration begins.")
        self._state = "closed"

    def _chain(self) -> Query:
        self._take()
        successor = Query.__new__(Query)
        successor.__dict__.update(self.__dict__)
        successor._filters = list(self._filters)
        successor._initializer = False
        successor._state = "preparing"
        return successor

    def with_index(self, name: str, range_builder: Callable[[IndexRangeBuilder], IndexRangeBuilder] | None = None) -> Query:
        """Read through index ``name``, limited to the range the builder describes."""
        successor = self._chain()
        successor._index_name = name
        if range_builder is not None:
            built = range_builder(IndexRangeBuilder())
            if not isinstance(built, IndexRangeBuilder):
                raise ConvexValueError("with_index() range must return the range builder, like `lambda q: q.eq(...)`")
            successor._range = built.expressions
        return successor

    def with_search_index(self, name: str, search_builder: Callable[[SearchFilterBuilder], SearchFilterBuilder]) -> Query:
        """Full-text search through search index ``name``; results come in relevance order."""
        successor = self._chain()
        built = search_builder(SearchFilterBuilder())
        if not isinstance(built, SearchFilterBuilder):
            raise ConvexValueError("with_search_index() must return the search builder, like `lambda q: q.search(...)`")
        successor._search = (name, built)
        return successor

    def full_table_scan(self) -> Query:
        """Read the whole table in creation order (the default source)."""
        return self._chain()

    def order(self, order: str) -> Query:
        """``"asc"`` (default) or ``"desc"`` order of the source index."""
        if self._search is not None:
            raise ConvexValueError("Search queries must always be in relevance order. Can not set order manually.")
        if self._order is not None:
            raise ConvexValueError("Queries may only specify order at most once")
        if order not in ("asc", "desc"):
            raise ConvexValueError(f'order() takes "asc" or "desc", got {order!r}')
        successor = self._chain()
        successor._order = order
        return successor

    def filter(self, predicate: Callable[[Any], Any]) -> Query:
        """Keep rows for which the ``q`` expression is true (evaluated after the scan)."""
        successor = self._chain()
        successor._filters.append(build_filter(predicate))
        if sum(expression.operators for expression in successor._filters) > knobs.MAX_QUERY_OPERATORS:
            raise ConvexValueError(f"Can't construct query with more than {knobs.MAX_QUERY_OPERATORS} operators")
        return successor

    # --- execution --------------------------------------------------------------------------
    @property
    def _transaction(self) -> Transaction:
        transaction = self._execution.transaction
        assert transaction is not None  # a query object only exists inside a query or mutation
        return transaction

    def _start(self) -> None:
        """Begin iterating (``collect`` and ``async for``); see the class docstring."""
        if self._initializer:
            return
        if self._state == "executing":
            raise ConvexValueError("Iteration can only begin on a query once.")
        if self._state == "closed":
            raise ConvexValueError("This query has been chained with another operator and can't be reused.")
        if self._state == "consumed":
            raise ConvexValueError("This query is closed and can't emit any more values.")
        self._state = "executing"

    def _finish(self) -> None:
        """Iteration reached its end (or failed): the query can emit nothing more."""
        if not self._initializer:
            self._state = "consumed"

    def _source(self) -> tuple[IndexInfo, Interval] | None:
        transaction = self._transaction
        table_number = transaction.catalog.table_numbers.get(self._table)
        if table_number is None:
            # A table that does not exist yet reads as empty and records nothing; only its two
            # system indexes exist already (§3.8).
            if self._index_name not in (BY_ID, BY_CREATION_TIME):
                raise ConvexValueError(f"Index {self._table}.{self._index_name} not found.")
            return None
        index = transaction.catalog.index(table_number, self._index_name)
        if index is None:
            raise ConvexValueError(f"Index {self._table}.{self._index_name} not found.")
        return index, compile_range(index, self._range)

    def _scan(self, batch: int | None = None) -> IndexScan | None:
        source = self._source()
        if source is None:
            return None
        index, interval = source
        return self._transaction.scan(index, interval, descending=self._order == "desc", batch=batch)

    def _search_plan(self) -> SearchPlan | None:
        assert self._search is not None
        name, builder = self._search
        transaction = self._transaction
        schema = transaction.database.schema
        table = schema.tables.get(self._table) if schema is not None else None
        index = next((index for index in table.search_indexes if index.name == name), None) if table else None
        if index is None:
            raise ConvexValueError(f"Index {self._table}.{name} not found.")
        table_number = transaction.catalog.table_numbers.get(self._table)
        return None if table_number is None else plan_search(self._table, table_number, index, builder)

    def _open(self, batch: int | None = None) -> tuple[IndexScan | None, Iterator[dict[str, Value]]]:
        """The scan to close afterwards (None for search), and the matching documents in order.

        ``batch``: how many rows the caller expects to need (see ``Transaction.scan``).
        """
        if self._search is not None:
            plan = self._search_plan()
            if plan is None:
                return None, iter(())
            matches = search_documents(self._transaction, plan)
            return None, (document for document in matches if self._passes(document))
        scan = self._scan(batch)
        if scan is None:
            return None, iter(())
        # map/filter run in C: no Python frame per row on top of the scan's own.
        documents = map(_second, scan)
        return scan, filter(self._passes, documents) if self._filters else documents

    def _passes(self, document: dict[str, Value]) -> bool:
        return all(as_boolean(expression.evaluate(document)) for expression in self._filters)

    async def collect(self) -> list[dict[str, Value]]:
        """Every matching document, in order."""
        self._start()
        scan, documents = self._open()
        try:
            return list(documents)
        finally:
            self._finish()
            if scan is not None:
                scan.close()

    async def take(self, n: int) -> list[dict[str, Value]]:
        """The first ``n`` matching documents."""
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0 or int(n) != n:
            raise ConvexValueError("Arg 1 `n` to `take` must be a non-negative integer")
        self._take()
        if n == 0:
            return []
        scan, documents = self._open(int(n))
        try:
            return list(itertools.islice(documents, int(n)))
        finally:
            if scan is not None:
                scan.close()

    async def first(self) -> dict[str, Value] | None:
        """The first matching document, or None."""
        found = await self.take(1)
        return found[0] if found else None

    async def unique(self) -> dict[str, Value] | None:
        """The only matching document, None for none; two or more is an error."""
        found = await self.take(2)
        if len(found) > 1:
            raise ConvexValueError(
                f"unique() query returned more than one result from table {self._table}:\n"
                f" [{found[0]['_id']}, {found[1]['_id']}, ...]"
            )
        return found[0] if found else None

    def __aiter__(self) -> AsyncIterator[dict[str, Value]]:
        self._start()
        return _AsyncRows(self, *self._open())

    async def paginate(self, options: dict[str, Any]) -> dict[str, Any]:
        """One page: ``{page, isDone, continueCursor, splitCursor, pageStatus}`` (Convex's names)."""
        self._take()
        return _Paginator(self, options).run()

    def fingerprint(self) -> bytes:
        """What a cursor is bound to: table, index, range, order and filters."""
        description = json.dumps(
            [
                self._table,
                self._index_name,
                self._search and (self._search[0], self._search[1].searches, [(f, repr(v)) for f, v in self._search[1].equalities]),
                [(e.op, e.field, repr(e.value)) for e in self._range],
                self._order or "asc",
                [expression.to_json() for expression in self._filters],
            ],
            sort_keys=True,
            default=repr,
        )
        return hashlib.blake2b(description.encode(), digest_size=8).digest()


class _AsyncRows:
    """Lazy async iteration: reads (and the read set) cover only what was pulled."""

    def __init__(self, query: Query, scan: IndexScan | None, documents: Iterator[dict[str, Value]]) -> None:
        self._query = query
        self._scan = scan
        self._documents = documents

    def __aiter__(self) -> _AsyncRows:
        return self

    async def __anext__(self) -> dict[str, Value]:
        try:
            return next(self._documents)
        except StopIteration:
            self._end()
            raise StopAsyncIteration from None
        except BaseException:
            self._end()
            raise

    def _end(self) -> None:
        self._query._finish()
        if self._scan is not None:
            self._scan.close()


def encode_cursor(fingerprint: bytes, key: bytes | None) -> str:
    """An opaque cursor: the query fingerprint and a position (a key, or the end)."""
    payload = fingerprint + (_END if key is None else _KEY + key)
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: bytes) -> bytes | None:
    """The position in ``cursor`` (None = end); InvalidCursor if it belongs to another query."""
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise InvalidCursorError(f"InvalidCursor: Failed to decode cursor {cursor!r}") from None
    if payload[:8] != fingerprint or payload[8:9] not in (_END, _KEY):
        raise InvalidCursorError(
            "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query."
        )
    return None if payload[8:9] == _END else payload[9:]


class _Paginator:
    """The page algorithm of convex-semantics §3.12 (no look-ahead; cursors are positions)."""

    def __init__(self, query: Query, options: dict[str, Any]) -> None:
        self.query = query
        execution = query._execution
        if execution.paginated:
            raise ConvexValueError(
                "This query or mutation function ran multiple paginated queries. Convex only supports a single "
                "paginated query in each function."
            )
        execution.paginated = True
        if not isinstance(options, dict):
            raise ConvexValueError("paginate() takes pagination options {numItems, cursor}")
        num_items = options.get("numItems")
        if isinstance(num_items, bool) or not isinstance(num_items, (int, float)):
            raise ConvexValueError(f"`options.numItems` must be a positive number. Received `{num_items!r}`.")
        self.num_items: float = num_items
        if self.num_items < 1:
            raise ConvexValueError("Must request at least 1 document while paginating")
        if self.num_items > knobs.MAX_PAGE_SIZE:
            raise ConvexValueError(f"Requested too many items: {self.num_items}")
        self.max_rows: float | None = options.get("maximumRowsRead")
        self.max_bytes: float | None = options.get("maximumBytesRead")
        for limit in (self.max_rows, self.max_bytes):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
                raise ConvexValueError("maximumRowsRead and maximumBytesRead must be greater than 0")
        self.cursor = options.get("cursor")
        self.end_cursor = options.get("endCursor")
        if self.end_cursor is None and execution.journal_in is not None:
            self.end_cursor = execution.journal_in

    def run(self) -> dict[str, Any]:
        if self.query._search is not None:
            return self._run_search()
        query = self.query
        fingerprint = query.fingerprint()
        source = query._source()
        descending = query._order == "desc"
        start = decode_cursor(self.cursor, fingerprint) if self.cursor is not None else b""
        end = decode_cursor(self.end_cursor, fingerprint) if self.end_cursor is not None else None
        end_cursor = encode_cursor(fingerprint, None)
        if source is None or start is None:
            return self._result([], end_cursor, None, None)
        index, interval = source
        low, high = interval.low, interval.high
        if start:
            if descending:
                high = start if high is None else min(high, start)
            else:
                low = max(low, start + b"\x00")
        if end is not None:
            if descending:
                low = max(low, end)
            else:
                high = end + b"\x00" if high is None else min(high, end + b"\x00")
        transaction = query._transaction
        # With an end cursor (even the "end" one) the page is exactly (cursor, end]: no item or read caps.
        capped = self.end_cursor is None
        batch = math.ceil(self.num_items) if capped else None
        scan = transaction.scan(index, Interval(low, high), descending=descending, batch=batch)
        page: list[dict[str, Value]] = []
        scanned_keys: list[bytes] = []
        split_required = False
        # Locals, not attributes: this loop runs once per scanned row.
        item_cap = self.num_items if capped else math.inf
        row_cap: float = self.max_rows if capped and self.max_rows is not None else math.inf
        byte_cap: float = self.max_bytes if capped and self.max_bytes is not None else math.inf
        metrics = transaction.metrics
        if capped:
            if metrics.documents_read >= knobs.MAX_DOCUMENTS_READ or metrics.bytes_read >= knobs.MAX_BYTES_READ:
                row_cap = 0
            elif scan.counts_reads:
                # The transaction's own read limits, as what is left of them for this page.
                row_cap = min(row_cap, knobs.MAX_DOCUMENTS_READ - metrics.documents_read)
                byte_cap = min(byte_cap, knobs.MAX_BYTES_READ - metrics.bytes_read)
        filtered = bool(query._filters)
        bounded_bytes = byte_cap != math.inf
        try:
            # Every cap is checked before pulling a row: up front, then after each row (once per row scanned).
            if row_cap <= 0:
                split_required = True
            else:
                for key, document in scan:
                    scanned_keys.append(key)
                    if not filtered or query._passes(document):
                        page.append(document)
                        if len(page) >= item_cap:
                            break
                    if len(scanned_keys) >= row_cap or (bounded_bytes and scan.bytes_pulled >= byte_cap):
                        split_required = True
                        break
        finally:
            scan.close()
        rows_read, bytes_read = len(scanned_keys), scan.bytes_pulled
        if scan.exhausted:
            continue_cursor = self.end_cursor if self.end_cursor is not None else end_cursor
        else:
            # A page stopped before its first row (a read limit already reached) continues where it began.
            continue_cursor = encode_cursor(fingerprint, scan.last_key if scan.last_key is not None else start)
        split = encode_cursor(fingerprint, scanned_keys[len(scanned_keys) // 2]) if len(scanned_keys) > 2 else None
        status = "SplitRequired" if split_required else None
        if status is None:
            row_cap = min(self.max_rows or knobs.MAX_DOCUMENTS_READ, knobs.MAX_DOCUMENTS_READ)
            byte_cap = min(self.max_bytes or knobs.MAX_BYTES_READ, knobs.MAX_BYTES_READ)
            if rows_read > 0.75 * row_cap or bytes_read > 0.75 * byte_cap or len(page) > 6144:
                status = "SplitRecommended"
        return self._result(page, continue_cursor, split, status, is_done=continue_cursor == end_cursor)

    def _run_search(self) -> dict[str, Any]:
        """Search pages walk the relevance order; a cursor is a position in it."""
        fingerprint = self.query.fingerprint()
        start = decode_cursor(self.cursor, fingerprint) if self.cursor is not None else (0).to_bytes(8, "big")
        end = decode_cursor(self.end_cursor, fingerprint) if self.end_cursor is not None else None
        end_cursor = encode_cursor(fingerprint, None)
        if start is None:
            return self._result([], end_cursor, None, None)
        offset = int.from_bytes(start, "big")
        stop = int.from_bytes(end, "big") if end is not None else offset + int(self.num_items)
        _, documents = self.query._open()
        page: list[dict[str, Value]] = []
        # No look-ahead (§3.12): a page that fills on the last match is not known to be the last.
        # An empty range (the end cursor at the start) reads nothing and is not the end.
        exhausted = offset < stop
        for position, document in enumerate(documents if exhausted else ()):
            if position >= offset:
                page.append(document)
            if position + 1 >= stop:
                exhausted = False
                break
        if exhausted and self.end_cursor is None:
            return self._result(page, end_cursor, None, None)
        continue_cursor = self.end_cursor or encode_cursor(fingerprint, stop.to_bytes(8, "big"))
        return self._result(page, continue_cursor, None, None, is_done=continue_cursor == end_cursor)

    def _result(
        self,
        page: list[dict[str, Value]],
        continue_cursor: str,
        split_cursor: str | None,
        status: str | None,
        *,
        is_done: bool = True,
    ) -> dict[str, Any]:
        self.query._execution.journal_out = continue_cursor
        return {
            "page": page,
            "isDone": is_done,
            "continueCursor": continue_cursor,
            "splitCursor": split_cursor,
            "pageStatus": status,
        }
