"""SQLite persistence: the narrow layer that knows SQL, and nothing about functions or queries.

Everything the database keeps is in one file in WAL mode:

- ``documents``: one row per live document, its full body (system fields included) as msgpack,
  which keeps int64 and float64, str and bytes apart without any wrapping, and its Convex size
  (``getConvexSize``), measured once when written since every read counts it;
- ``index_entries``: one row per (index, key) for ``by_id``, ``by_creation_time`` and every
  declared index;
  a key is the order-preserving encoding of the indexed fields, ``_creationTime`` and ``_id``,
  so every index read is a byte-range scan;
- ``tables`` and ``indexes``: the catalog, mapping names to the numbers that ids and keys use;
- ``meta``: the last commit timestamp, so timestamps keep increasing across restarts;
- ``mutation_receipts``: the outcomes of recently committed client mutations, by (session id,
  request id, principal), so that a resent one is answered instead of run again (``runtime.store.receipts``).

Only plain ``sqlite3`` is used: callers decide which thread runs what (see ``database.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from runtime import knobs
from runtime.store.receipts import ReceiptKey
from runtime.values.keys import encode_value
from runtime.values.values import Value, value_size

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (
    table_number INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS indexes (
    index_id INTEGER PRIMARY KEY,
    table_number INTEGER NOT NULL,
    name TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (table_number, name)
);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    table_number INTEGER NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_entries (
    index_id INTEGER NOT NULL,
    key BLOB NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (index_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mutation_receipts (
    session TEXT NOT NULL,
    request INTEGER NOT NULL,
    principal TEXT NOT NULL,
    ts INTEGER NOT NULL,
    outcome BLOB NOT NULL,
    PRIMARY KEY (session, request, principal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mutation_receipts_by_ts ON mutation_receipts (ts);
"""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


# Bound methods rather than wrapper functions: every row read or written goes through them.
encode_document: Final[Callable[[dict[str, Value]], bytes]] = _encoder.encode
"""Serialise a document body; msgpack keeps every Convex type distinct."""

decode_document: Final[Callable[[bytes], dict[str, Value]]] = _decoder.decode
"""Inverse of ``encode_document``."""


def connect(path: Path, *, synchronous: str = knobs.SQLITE_SYNCHRONOUS) -> sqlite3.Connection:
    """Open a connection configured for this store (WAL, the chosen durability, manual transactions)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=10000")
    connection.execute("PRAGMA foreign_keys=OFF")
    return connection


# The layout this code writes; files written by earlier versions are upgraded when opened.
FORMAT_VERSION: Final = 2


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the store's tables if this is a new file, and upgrade a file of an older format."""
    connection.executescript(_SCHEMA)
    version = Rows(connection).get_meta("format")
    if not isinstance(version, int) or version < FORMAT_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            _upgrade_to_2(connection)
            Rows(connection).set_meta("format", FORMAT_VERSION)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _upgrade_to_2(connection: sqlite3.Connection) -> None:
    """Format 2: every document's Convex size is stored, and ``by_id`` holds an entry per document."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
    if "size" not in columns:
        connection.execute("ALTER TABLE documents ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
    for doc_id, body in connection.execute("SELECT id, body FROM documents").fetchall():
        connection.execute("UPDATE documents SET size = ? WHERE id = ?", (value_size(decode_document(body)), doc_id))
    by_id_indexes = connection.execute("SELECT index_id, table_number FROM indexes WHERE name = 'by_id'").fetchall()
    for index_id, table_number in by_id_indexes:
        for (doc_id,) in connection.execute("SELECT id FROM documents WHERE table_number = ?", (table_number,)).fetchall():
            connection.execute(
                "INSERT OR IGNORE INTO index_entries (index_id, key, doc_id) VALUES (?, ?, ?)",
                (index_id, encode_value(doc_id), doc_id),
            )


class Rows:
    """Row-level reads and writes on one connection, inside whatever transaction it has open."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    # --- catalog and meta -------------------------------------------------------------------
    def get_meta(self, key: str) -> object:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: object) -> None:
        self.connection.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def load_tables(self) -> list[tuple[int, str]]:
        return self.connection.execute("SELECT table_number, name FROM tables").fetchall()

    def add_table(self, table_number: int, name: str) -> None:
        self.connection.execute("INSERT INTO tables (table_number, name) VALUES (?, ?)", (table_number, name))

    def load_indexes(self) -> list[tuple[int, int, str, str]]:
        return self.connection.execute("SELECT index_id, table_number, name, fields FROM indexes").fetchall()

    def add_index(self, table_number: int, name: str, fields_json: str) -> int:
        cursor = self.connection.execute(
            "INSERT INTO indexes (table_number, name, fields) VALUES (?, ?, ?)", (table_number, name, fields_json)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def drop_index(self, index_id: int) -> None:
        self.connection.execute("DELETE FROM index_entries WHERE index_id = ?", (index_id,))
        self.connection.execute("DELETE FROM indexes WHERE index_id = ?", (index_id,))

    # --- documents --------------------------------------------------------------------------
    def get_body(self, doc_id: str) -> bytes | None:
        row = self.connection.execute("SELECT body FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def get_sized(self, doc_id: str) -> tuple[bytes, int] | None:
        """The document's body and its Convex size, or None."""
        row: tuple[bytes, int] | None = self.connection.execute(
            "SELECT body, size FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return row

    def put_document(self, doc_id: str, table_number: int, body: bytes, size: int) -> None:
        self.connection.execute(
            "INSERT INTO documents (id, table_number, body, size) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body, size = excluded.size",
            (doc_id, table_number, body, size),
        )

    def delete_document(self, doc_id: str) -> None:
        self.connection.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def table_documents(self, table_number: int) -> Iterator[bytes]:
        """Every document body of a table, in no particular order (for backfills and exports)."""
        cursor = self.connection.execute("SELECT body FROM documents WHERE table_number = ?", (table_number,))
        for (body,) in cursor:
            yield body

    # --- index entries ----------------------------------------------------------------------
    def put_entry(self, index_id: int, key: bytes, doc_id: str) -> None:
        self.connection.execute("INSERT INTO index_entries (index_id, key, doc_id) VALUES (?, ?, ?)", (index_id, key, doc_id))

    def delete_entry(self, index_id: int, key: bytes) -> None:
        self.connection.execute("DELETE FROM index_entries WHERE index_id = ? AND key = ?", (index_id, key))

    def count_entries(self, index_id: int) -> int:
        return self.connection.execute("SELECT count(*) FROM index_entries WHERE index_id = ?", (index_id,)).fetchone()[0]

    def scan(
        self, index_id: int, low: bytes, high: bytes | None, *, descending: bool, limit: int
    ) -> list[tuple[bytes, bytes, int]]:
        """Up to ``limit`` (key, body, Convex size) rows with ``low <= key < high`` in key order."""
        order = "DESC" if descending else "ASC"
        if high is None:
            sql = (
                "SELECT e.key, d.body, d.size FROM index_entries e JOIN documents d ON d.id = e.doc_id "
                f"WHERE e.index_id = ? AND e.key >= ? ORDER BY e.key {order} LIMIT ?"
            )
            return self.connection.execute(sql, (index_id, low, limit)).fetchall()
        sql = (
            "SELECT e.key, d.body, d.size FROM index_entries e JOIN documents d ON d.id = e.doc_id "
            f"WHERE e.index_id = ? AND e.key >= ? AND e.key < ? ORDER BY e.key {order} LIMIT ?"
        )
        return self.connection.execute(sql, (index_id, low, high, limit)).fetchall()

    # --- mutation receipts (runtime.store.receipts) -----------------------------------------
    def find_receipts(self, keys: list[ReceiptKey]) -> dict[ReceiptKey, tuple[int, bytes]]:
        """The (ts, stored outcome) of those of ``keys`` that have a receipt: one statement."""
        values = ", ".join(["(?, ?, ?)"] * len(keys))
        sql = (
            "SELECT session, request, principal, ts, outcome FROM mutation_receipts "
            f"WHERE (session, request, principal) IN (VALUES {values})"
        )
        rows = self.connection.execute(sql, [part for key in keys for part in key]).fetchall()
        return {(session, request, principal): (ts, outcome) for session, request, principal, ts, outcome in rows}

    def add_receipts(self, receipts: list[tuple[ReceiptKey, int, bytes]]) -> None:
        """Store receipts (key, commit ts, stored outcome): one statement; a key already stored is kept."""
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(receipts))
        parameters = [part for key, ts, outcome in receipts for part in (*key, ts, outcome)]
        self.connection.execute(
            f"INSERT INTO mutation_receipts (session, request, principal, ts, outcome) VALUES {values} "
            "ON CONFLICT DO NOTHING",
            parameters,
        )

    def prune_receipts(self, before_ts: int) -> None:
        """Delete the receipts of mutations committed before ``before_ts``."""
        self.connection.execute("DELETE FROM mutation_receipts WHERE ts < ?", (before_ts,))
