"""Where a deployment's rows live: the embedded SQLite file (default) or a PostgreSQL database.

Both stores offer the same narrow interface, which ``runtime.store.sqlite`` and
``runtime.store.postgres`` implement and ``runtime.database`` drives:

- a *connection* that takes the transaction-control statements the database issues (``BEGIN``,
  ``BEGIN IMMEDIATE`` for the writer, ``SAVEPOINT``/``ROLLBACK TO``/``RELEASE``, ``COMMIT``,
  ``ROLLBACK``) and reports ``total_changes`` and ``in_transaction``;
- a *rows* object (``get_meta``/``set_meta``, the catalog, documents, index entries and byte-ordered
  range scans) bound to that connection: ``Rows`` (``runtime.store.rows``, re-exported here).

Text search is the one place the SQL differs beyond rows: ``runtime.database.search`` hands it to the
PostgreSQL connection's ``text_search`` when the store is PostgreSQL.

The store is chosen by a URL: ``postgresql://…`` (from ``opencom serve --database`` or the
``OPENCOM_DATABASE_URL`` variable) selects PostgreSQL; no URL keeps SQLite in the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.store.rows import Rows, StoreError

__all__ = ["DATABASE_URL_VARIABLE", "OpenStore", "Rows", "StoreError", "database_url", "open_store"]

DATABASE_URL_VARIABLE = "OPENCOM_DATABASE_URL"
_SCHEMES = ("postgresql://", "postgres://")


def database_url(explicit: str | None = None) -> str | None:
    """The PostgreSQL URL to use: ``explicit`` if given, else ``OPENCOM_DATABASE_URL``, else None (SQLite)."""
    url = explicit if explicit is not None else os.environ.get(DATABASE_URL_VARIABLE) or None
    if url is not None and not url.startswith(_SCHEMES):
        raise ValueError(f"unsupported database URL {url!r}: expected postgresql://user@host:port/database")
    return url


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
