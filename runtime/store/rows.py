"""The interface both stores implement for the database: ``Rows``, and ``StoreError`` for their failures.

Apart from ``runtime.store``, which opens a store and so imports the stores' modules, which name these.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runtime.store.receipts import ReceiptKey


class StoreError(sqlite3.DatabaseError):
    """The PostgreSQL store failed (connection lost, server error).

    It is an ``sqlite3.Error``, the runtime's one notion of "the store failed, not the user's code"
    (the job and cron runners retry on it), so store failures look alike whichever store is used.
    """


class Rows(Protocol):
    """Row-level reads and writes on one connection, inside whatever transaction it has open."""

    @property
    def connection(self) -> Any:
        """The store's connection these rows use (``sqlite3.Connection`` or ``PgConnection``)."""
        ...

    def get_meta(self, key: str) -> Any:
        """The value ``set_meta`` stored under ``key``, or None."""
        ...

    def set_meta(self, key: str, value: object) -> None: ...

    def load_tables(self) -> list[tuple[int, str]]: ...

    def add_table(self, table_number: int, name: str) -> None: ...

    def load_indexes(self) -> list[tuple[int, int, str, str]]: ...

    def add_index(self, table_number: int, name: str, fields_json: str) -> int: ...

    def drop_index(self, index_id: int) -> None: ...

    def get_body(self, doc_id: str) -> bytes | None: ...

    def get_sized(self, doc_id: str) -> tuple[bytes, int] | None:
        """The document's body and its Convex size, or None."""
        ...

    def put_document(self, doc_id: str, table_number: int, body: bytes, size: int) -> None: ...

    def delete_document(self, doc_id: str) -> None: ...

    def table_documents(self, table_number: int) -> Iterator[bytes]:
        """Every document body of a table, in no particular order (for backfills and exports)."""
        ...

    def put_entry(self, index_id: int, key: bytes, doc_id: str) -> None: ...

    def delete_entry(self, index_id: int, key: bytes) -> None: ...

    def count_entries(self, index_id: int) -> int: ...

    def scan(
        self, index_id: int, low: bytes, high: bytes | None, *, descending: bool, limit: int
    ) -> list[tuple[bytes, bytes, int]]:
        """Up to ``limit`` (key, body, Convex size) rows with ``low <= key < high`` in key order."""
        ...

    def find_receipts(self, keys: list[ReceiptKey]) -> dict[ReceiptKey, tuple[int, bytes]]:
        """The (ts, stored outcome) of those of ``keys`` that have a receipt: one statement."""
        ...

    def add_receipts(self, receipts: list[tuple[ReceiptKey, int, bytes]]) -> None:
        """Store receipts (key, commit ts, stored outcome): one statement; a key already stored is kept."""
        ...

    def prune_receipts(self, before_ts: int) -> None:
        """Delete the receipts of mutations committed before ``before_ts``."""
        ...
