"""Where a deployment's rows live: the embedded SQLite file (default) or a PostgreSQL database.

Both stores offer the same narrow interface, which ``runtime.store.sqlite`` and
``runtime.store.postgres`` implement and ``runtime.database`` drives:

- a *connection* that takes the transaction-control statements the database issues (``BEGIN``,
  ``BEGIN IMMEDIATE`` for the writer, ``SAVEPOINT``/``ROLLBACK TO``/``RELEASE``, ``COMMIT``,
  ``ROLLBACK``) and reports ``total_changes`` and ``in_transaction``;
- a *rows* object (``get_meta``/``set_meta``, the catalog, documents, index entries and byte-ordered
  range scans) bound to that connection: ``Rows`` below.

Text search is the one place the SQL differs beyond rows: ``runtime.database.search`` hands it to the
PostgreSQL connection's ``text_search`` when the store is PostgreSQL.

The store is chosen by a URL: ``postgresql://…`` (from ``opencom serve --database`` or the
``OPENCOM_DATABASE_URL`` variable) selects PostgreSQL; no URL keeps SQLite in the data directory.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runtime.store.receipts import ReceiptKey

DATABASE_URL_VARIABLE = "OPENCOM_DATABASE_URL"
_SCHEMES = ("postgresql://", "postgres://")


def database_url(explicit: str | None = None) -> str | None:
    """The PostgreSQL URL to use: ``explicit`` if given, else ``OPENCOM_DATABASE_URL``, else None (SQLite)."""
    url = explicit if explicit is not None else os.environ.get(DATABASE_URL_VARIABLE) or None
    if url is not None and not url.startswith(_SCHEMES):
        raise ValueError(f"unsupported database URL {url!r}: expected postgresql://user@host:port/database")
    return url


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


@dataclass(slots=True)
class OpenStore:
    """The writer's, the reader's and the pinned reader's connections and rows of one opened store."""

    writer_connection: Any
    reader_connection: Any
    writer_rows: Rows
    reader_rows: Rows
    pinned_connection: Any
    pinned_rows: Rows


def open_store(sqlite_path: Path, url: str | None, *, synchronous: str) -> OpenStore:
    """Open the writer and both reader sides of the store ``url`` names (SQLite at ``sqlite_path`` when None).

    The schema is created (or upgraded) before the reader opens. Several servers may open one
    PostgreSQL store: their writers take turns (``runtime.store.postgres``, ``runtime.database.commit_feed``).
    """
    if url is not None:
        from runtime.store import postgres  # psycopg is only imported by deployments that use it

        writer = postgres.connect(url)
        postgres.create_schema(writer)
        reader = postgres.connect(url)
        pinned = postgres.connect(url)
        return OpenStore(writer, reader, postgres.PgRows(writer), postgres.PgRows(reader), pinned, postgres.PgRows(pinned))
    from runtime.store import sqlite

    writer_connection = sqlite.connect(sqlite_path, synchronous=synchronous)
    sqlite.create_schema(writer_connection)
    reader_connection = sqlite.connect(sqlite_path, synchronous=synchronous)
    pinned_connection = sqlite.connect(sqlite_path, synchronous=synchronous)
    return OpenStore(
        writer_connection,
        reader_connection,
        sqlite.Rows(writer_connection),
        sqlite.Rows(reader_connection),
        pinned_connection,
        sqlite.Rows(pinned_connection),
    )
