"""Read-only access to a data directory's store, safe while a server is writing to it.

``opencom data`` and ``opencom export`` only read, so they open the SQLite file read-only instead of
a ``Database`` (which would take the writer's role and apply the schema); with a PostgreSQL store
(``OPENCOM_DATABASE_URL``) it reads one repeatable-read snapshot of that database instead. The file is in WAL mode,
so one read transaction here sees one consistent committed state however long it lasts, and never
blocks the server's writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from cli.output import CliError
from runtime import store
from runtime.database.database import DATABASE_FILE
from runtime.store.catalog import BY_CREATION_TIME, Catalog
from runtime.store.sqlite import Rows, decode_document
from runtime.values.values import Value

_BATCH = 256


class StoreReader:
    """One consistent read-only snapshot of a data directory (use as a context manager).

    A data directory without a database file reads as a store without tables.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DATABASE_FILE
        self.catalog = Catalog()
        self._connection: sqlite3.Connection | None = None
        self._rows: Rows | None = None

    def __enter__(self) -> Self:
        try:
            url = store.database_url()
        except ValueError as error:
            raise CliError(str(error)) from None
        if url is not None:
            from runtime.store import postgres

            try:
                self._connection = postgres.connect(url)  # type: ignore[assignment]
            except store.StoreError as error:
                raise CliError(str(error)) from None
            self._connection.execute("BEGIN")
            self._rows = postgres.PgRows(self._connection)  # type: ignore[arg-type, assignment]
            self.catalog.load(self._rows)  # type: ignore[arg-type]
        elif self.path.exists():
            self._connection = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None)
            self._connection.execute("PRAGMA busy_timeout=10000")
            self._connection.execute("BEGIN")
            self._rows = Rows(self._connection)
            self.catalog.load(self._rows)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._connection is not None:
            self._connection.execute("COMMIT")
            self._connection.close()
            self._connection = None

    @property
    def ts(self) -> int:
        """The commit timestamp of the snapshot (0 for an empty store)."""
        return int(self._rows.get_meta("ts") or 0) if self._rows is not None else 0

    def table_names(self, *, system: bool = False) -> list[str]:
        """Every table, sorted; system tables (``_storage`` …) only with ``system``."""
        return sorted(name for name in self.catalog.table_numbers if system or not name.startswith("_"))

    def count(self, table: str) -> int:
        """How many documents ``table`` holds (0 if it does not exist)."""
        index = self._by_creation_time(table)
        if index is None or self._rows is None:
            return 0
        return self._rows.count_entries(index)

    def documents(
        self, table: str, *, descending: bool = False, limit: int | None = None
    ) -> Iterator[dict[str, Value]]:
        """The documents of ``table`` in ``_creationTime`` order, at most ``limit`` of them."""
        index = self._by_creation_time(table)
        if index is None or self._rows is None:
            return
        low, high = b"", None
        remaining = limit
        while remaining is None or remaining > 0:
            batch = _BATCH if remaining is None else min(_BATCH, remaining)
            rows = self._rows.scan(index, low, high, descending=descending, limit=batch)
            for _, body, _ in rows:
                yield decode_document(body)
            if len(rows) < batch:
                return
            last_key = rows[-1][0]
            if descending:
                high = last_key
            else:
                low = last_key + b"\x00"
            if remaining is not None:
                remaining -= len(rows)

    def _by_creation_time(self, table: str) -> int | None:
        number = self.catalog.table_numbers.get(table)
        if number is None:
            return None
        info = self.catalog.index(number, BY_CREATION_TIME)
        return info.index_id if info is not None else None
