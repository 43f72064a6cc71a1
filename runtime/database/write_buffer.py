"""A mutation's writes kept in memory over a read snapshot, for the writer to replay at commit.

A mutation too long for the writer (``runtime.database.optimistic``) runs on a worker thread against a
reader connection's snapshot. Its writes cannot go to that connection (only the writer writes), so
``BufferedRows`` keeps them in memory and shows them to the mutation's own reads, positioned by
their index keys exactly as the store would (Convex's read-your-writes), and ``BufferedTransaction``
records them in ``writes`` in order, for ``runtime.database.optimistic`` to replay on the writer.

Three things the buffer cannot show a mutation's reads are left to the writer instead, by raising
``NeedsWriter``: a table created by its first insert (the catalog is shared), and a text search of
a table the mutation wrote (search indexes live in the store). Savepoints of nested mutations are
marks in an undo log.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from runtime.database.transaction import Transaction
from runtime.store import Rows
from runtime.values.keys import trailing_id
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.database.database import Database

Row = tuple[bytes, bytes, int]  # key, body, Convex size, as ``Rows.scan`` returns them
_ABSENT: Final = object()  # "not written by this transaction": the snapshot shows through


class NeedsWriter(BaseException):
    """The mutation does something only the writer can run; it runs there instead, from the start.

    A ``BaseException``, like a time-out, so that user code catching ``Exception`` cannot swallow it.
    """


class BufferedRows:
    """``Rows`` of a read snapshot with one transaction's writes on top (see the module docstring).

    Only what a transaction calls is here: reads merge the snapshot with the buffered writes, and
    writes never reach the snapshot's connection (which still serves text searches of tables the
    transaction has not written).
    """

    def __init__(self, base: Rows) -> None:
        self.base = base
        self.connection = base.connection
        # Document id → (body, size) as last written, or None once deleted.
        self._documents: dict[str, tuple[bytes, int] | None] = {}
        # Index id → key → document id, or None where the transaction removed the snapshot's entry.
        self._entries: dict[int, dict[bytes, str | None]] = {}
        # Index id → the keys of ``_entries[index id]``, sorted, for range scans.
        self._sorted: dict[int, list[bytes]] = {}
        # How to undo every write so far, newest last: (index id or None for a document, key, previous).
        self._undo: list[tuple[int | None, Any, Any]] = []

    # --- reads ------------------------------------------------------------------------------
    def get_sized(self, doc_id: str) -> tuple[bytes, int] | None:
        if doc_id in self._documents:
            return self._documents[doc_id]
        return self.base.get_sized(doc_id)

    def scan(self, index_id: int, low: bytes, high: bytes | None, *, descending: bool, limit: int) -> list[Row]:
        """``Rows.scan`` of the snapshot as this transaction's writes have changed it."""
        keys = self._sorted.get(index_id, [])
        start = bisect_left(keys, low)
        end = len(keys) if high is None else bisect_left(keys, high)
        pending = keys[start:end]
        if not pending and not self._documents:
            return self.base.scan(index_id, low, high, descending=descending, limit=limit)
        entries = self._entries.get(index_id, {})
        # Every buffered key may hide one snapshot row: fetch that many more to still fill ``limit``.
        base_rows = self.base.scan(index_id, low, high, descending=descending, limit=limit + len(pending))
        kept: list[Row] = []
        for key, body, size in base_rows:
            if key in entries:
                continue  # this transaction removed or rewrote the entry
            written = self._documents.get(trailing_id(key), _ABSENT) if self._documents else _ABSENT
            if written is None:
                continue
            if written is not _ABSENT:
                body, size = written  # type: ignore[misc]  # updated in place: same key, new body
            kept.append((key, body, size))
        added: list[Row] = []
        for key in reversed(pending) if descending else pending:
            doc_id = entries[key]
            document = self._documents.get(doc_id) if doc_id is not None else None
            if document is not None:
                added.append((key, *document))
        merged = heapq.merge(kept, added, key=lambda row: row[0], reverse=descending)
        return list(islice(merged, limit))

    # --- writes -----------------------------------------------------------------------------
    def put_document(self, doc_id: str, table_number: int, body: bytes, size: int) -> None:
        self._set_document(doc_id, (body, size))

    def delete_document(self, doc_id: str) -> None:
        self._set_document(doc_id, None)

    def put_entry(self, index_id: int, key: bytes, doc_id: str) -> None:
        self._set_entry(index_id, key, doc_id)

    def delete_entry(self, index_id: int, key: bytes) -> None:
        self._set_entry(index_id, key, None)

    def _set_document(self, doc_id: str, value: tuple[bytes, int] | None) -> None:
        self._undo.append((None, doc_id, self._documents.get(doc_id, _ABSENT)))
        self._documents[doc_id] = value

    def _set_entry(self, index_id: int, key: bytes, doc_id: str | None) -> None:
        entries = self._entries.setdefault(index_id, {})
        previous = entries.get(key, _ABSENT)
        if previous is _ABSENT:
            insort(self._sorted.setdefault(index_id, []), key)
        self._undo.append((index_id, key, previous))
        entries[key] = doc_id

    # --- savepoints -------------------------------------------------------------------------
    def mark(self) -> int:
        """A point to ``roll_back`` to."""
        return len(self._undo)

    def roll_back(self, mark: int) -> None:
        """Undo every write made since ``mark``."""
        while len(self._undo) > mark:
            index_id, key, previous = self._undo.pop()
            if index_id is None:
                if previous is _ABSENT:
                    del self._documents[key]
                else:
                    self._documents[key] = previous
                continue
            if previous is _ABSENT:
                del self._entries[index_id][key]
                keys = self._sorted[index_id]
                del keys[bisect_left(keys, key)]
            else:
                self._entries[index_id][key] = previous


class BufferedTransaction(Transaction):
    """A mutation's transaction at a read snapshot whose writes stay in ``BufferedRows``.

    ``writes`` lists every write in order, as the writer must replay them; ``catalog_version`` and
    ``schema`` are those it ran against, which the writer checks are still current.
    """

    def __init__(self, database: Database, rows: Rows, ts: int) -> None:
        self.catalog_version = database.catalog.version
        self.schema = database.schema
        self.buffer = BufferedRows(rows)
        super().__init__(database, self.buffer, ts, writable=True)  # type: ignore[arg-type]  # a Rows in all it uses
        self._written_tables: set[int] = set()
        self._marks: dict[str, int] = {}

    def _create_table(self, table: str) -> int:
        raise NeedsWriter(f"the first insert into {table!r} creates it")

    def _next_creation_time(self) -> float:
        return self.database.next_creation_time(lent=True)

    def _index_text(self, table_number: int, old: dict[str, Value] | None, new: dict[str, Value] | None) -> None:
        self._written_tables.add(table_number)  # indexed when the writer replays the write

    def search_connection(self, table_number: int) -> Any:
        if table_number in self._written_tables:
            raise NeedsWriter("a text search must see this mutation's own writes to the table")
        return self.buffer.connection

    def _savepoint(self, name: str) -> None:
        self._marks[name] = self.buffer.mark()

    def _roll_back_to(self, name: str) -> None:
        self.buffer.roll_back(self._marks.pop(name))

    def _release(self, name: str) -> None:
        self._marks.pop(name, None)
