"""PostgreSQL persistence: the same rows as ``runtime.store.sqlite``, in a PostgreSQL database.

The layout mirrors the SQLite store (``meta``, ``tables``, ``indexes``, ``documents``,
``index_entries``), with ``bytea`` keys: PostgreSQL compares ``bytea`` byte by byte, so the
order-preserving index keys scan in the same order as in SQLite. Meta values are ``jsonb``.
``commit_log`` holds recent commit groups for the other servers of the deployment (``runtime.database.commit_feed``),
``mutation_receipts`` the outcomes of recently committed client mutations (``runtime.store.receipts``).

Commits: several servers may serve one database, and their writers take turns. A writer's
transaction starts by taking a transaction-level advisory lock (``COMMITTER_LOCK``), held until its
``COMMIT`` or ``ROLLBACK``, so at any moment at most one transaction of the whole deployment writes:
one serial order, and one monotonic commit timestamp in ``meta`` that each writer reads after taking
the lock. A killed server's transaction is rolled back by PostgreSQL when its socket closes, which
frees the lock at once. Readers use ``REPEATABLE READ READ ONLY`` transactions: one consistent
snapshot per query, whose timestamp is the ``meta`` row in it. A commit is acknowledged after
PostgreSQL's ``COMMIT`` returns (with the server's default ``synchronous_commit = on``, that is after
its WAL flush).

A lost connection (the server restarted, a network cut) is reopened by the next statement issued
outside a transaction; until PostgreSQL answers again every statement fails at once with a
``StoreError`` saying so, at most one reconnection attempt per ``RECONNECT_INTERVAL_S`` (each
bounded by ``CONNECT_TIMEOUT_S``), so callers hear an error instead of waiting on a dead socket.

The driver is psycopg 3 in its synchronous form: function code runs without suspending (see
``runtime.database.database``), so every row access must be a plain call, as it is with ``sqlite3``; an
async-only driver (asyncpg) would need a thread hop or a second event loop per call. It was also
the fastest for this access pattern: 2,000 single-row inserts in one transaction then 2,000 point
selects over loopback took 1.7 s with synchronous psycopg, 2.1 s with asyncpg and 3.8 s with
psycopg's async API (one run, same machine).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Final

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from runtime.store.pg_search import PgTextSearch
from runtime.store.pg_vectors import PgVectors
from runtime.store.receipts import ReceiptKey
from runtime.store.rows import StoreError
from runtime.time_limit import WATCHDOG

# An arbitrary constant naming "the writer of this database" among advisory locks.
COMMITTER_LOCK: Final = 0x6F70656E636F6D  # "opencom"
FORMAT_VERSION: Final = 2
CONNECT_TIMEOUT_S: Final = 3
RECONNECT_INTERVAL_S: Final = 1.0
# Far above anything a transaction waits for between statements (a mutation's time limit, a commit).
IDLE_IN_TRANSACTION_MS: Final = 60_000
# Detect a peer that vanished without closing its socket (a machine lost) within about 10 s.
KEEPALIVES: Final = {"keepalives": 1, "keepalives_idle": 4, "keepalives_interval": 2, "keepalives_count": 3}
_BEGIN_WRITING: Final = f"BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({COMMITTER_LOCK})"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value jsonb);
CREATE TABLE IF NOT EXISTS tables (table_number integer PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS indexes (
    index_id serial PRIMARY KEY,
    table_number integer NOT NULL,
    name text NOT NULL,
    fields text NOT NULL,
    UNIQUE (table_number, name)
);
CREATE TABLE IF NOT EXISTS documents (
    id text COLLATE "C" PRIMARY KEY,
    table_number integer NOT NULL,
    body bytea NOT NULL,
    size bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS documents_by_table ON documents (table_number);
CREATE TABLE IF NOT EXISTS index_entries (
    index_id integer NOT NULL,
    key bytea NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (index_id, key)
);
CREATE TABLE IF NOT EXISTS commit_log (
    ts bigint PRIMARY KEY,
    prev_ts bigint NOT NULL,
    node text NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS mutation_receipts (
    session text COLLATE "C" NOT NULL,
    request bigint NOT NULL,
    principal text COLLATE "C" NOT NULL,
    ts bigint NOT NULL,
    outcome bytea NOT NULL,
    PRIMARY KEY (session, request, principal)
);
CREATE INDEX IF NOT EXISTS mutation_receipts_by_ts ON mutation_receipts (ts);
"""


class PgConnection:
    """A psycopg connection that speaks the store interface's transaction-control vocabulary.

    ``execute`` takes exactly the statements ``runtime.database.database`` issues; ``BEGIN IMMEDIATE`` (the
    writer's) becomes a read-committed transaction, which is serializable here because the
    committer lock makes this connection the only writer; ``BEGIN`` (a reader's) becomes a
    read-only repeatable-read snapshot. Row SQL goes through ``query``/``modify``. Every psycopg
    error surfaces as ``StoreError``.
    """

    def __init__(self, url: str, raw: psycopg.Connection[Any]) -> None:
        self.url = url
        self.raw = raw
        self._last_attempt = 0.0
        self._lost: str | None = None
        # Between a BEGIN and its COMMIT or ROLLBACK: a session lost then is not replaced before the
        # transaction ends, or the rest of the transaction would run, and commit, outside it.
        self._transaction_open = False
        self.total_changes = 0
        self.text_search = PgTextSearch(self)
        self.vectors = PgVectors(self)

    @property
    def in_transaction(self) -> bool:
        # UNKNOWN (the connection is lost) is not "in a transaction": there is nothing to roll back.
        return self.raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)

    def execute(self, statement: str) -> None:
        """Run one transaction-control statement (see the class docstring)."""
        verb = statement.split(None, 1)[0].upper()
        if statement == "BEGIN IMMEDIATE":
            sql = _BEGIN_WRITING
        elif statement == "BEGIN":
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        elif verb in ("COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            sql = statement  # a fixed vocabulary, no user text
        else:
            raise ValueError(f"not a transaction-control statement: {statement!r}")
        ends = verb == "COMMIT" or statement == "ROLLBACK"
        if verb == "BEGIN":
            self._transaction_open = False  # whatever a lost session had open is gone
        elif statement == "ROLLBACK" and self.raw.closed:
            self._transaction_open = False  # PostgreSQL rolled it back when the session ended
            return
        try:
            self._run(sql, ())
        finally:
            if ends:
                self._transaction_open = False
        if verb == "BEGIN":
            self._transaction_open = True

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with WATCHDOG.shielded():
            return self._run(sql, parameters).fetchall()

    def modify(self, sql: str, parameters: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        cursor = self._run(sql, parameters)
        self.total_changes += max(cursor.rowcount, 0)
        return cursor

    def _run(self, sql: str, parameters: tuple[Any, ...]) -> psycopg.Cursor[Any]:
        if self.raw.closed:
            if self._transaction_open:
                raise StoreError(f"PostgreSQL connection lost ({self._lost}); the transaction was rolled back")
            self._reconnect()
        try:
            # psycopg runs its protocol in Python: a time limit must not cut a statement in half.
            with WATCHDOG.shielded():
                return self.raw.execute(sql, parameters or None)  # type: ignore[arg-type]
        except psycopg.Error as error:
            if self.raw.closed:
                self._lost = str(error).strip() or type(error).__name__
                raise StoreError(f"PostgreSQL connection lost ({self._lost}); reconnecting") from error
            raise StoreError(f"PostgreSQL: {error}") from error

    def _reconnect(self) -> None:
        """Open a new session for a lost one, at most once per ``RECONNECT_INTERVAL_S``."""
        now = time.monotonic()
        if now - self._last_attempt < RECONNECT_INTERVAL_S:
            raise StoreError(f"PostgreSQL is unreachable ({self._lost}); reconnecting")
        self._last_attempt = now
        try:
            self.raw = _open(self.url)
        except StoreError as error:
            self._lost = str(error)
            raise
        self._lost = None

    def close(self) -> None:
        self.raw.close()


def _open(url: str) -> psycopg.Connection[Any]:
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES)
        # A server stuck inside a transaction (a bug, a frozen process) would keep the writers'
        # lock from every other server: PostgreSQL ends such a session, and the lock with it.
        raw.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        return raw
    except psycopg.Error as error:
        raise StoreError(f"cannot connect to PostgreSQL: {str(error).strip()}") from error


def connect(url: str) -> PgConnection:
    """Open a connection in autocommit mode (transactions are the ``execute`` vocabulary's)."""
    return PgConnection(url, _open(url))


def create_schema(connection: PgConnection) -> None:
    """Create the store's tables if the database is new, holding the writers' lock so that servers
    starting together do not race each other's ``CREATE``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.modify(_SCHEMA)
        connection.text_search.create_schema()
        connection.vectors.create_schema()
        if PgRows(connection).get_meta("format") is None:
            PgRows(connection).set_meta("format", FORMAT_VERSION)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


class PgRows:
    """Row-level reads and writes on one connection (``runtime.store.Rows``)."""

    def __init__(self, connection: PgConnection) -> None:
        self.connection = connection

    # --- catalog and meta -------------------------------------------------------------------
    def get_meta(self, key: str) -> object:
        rows = self.connection.query("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: object) -> None:
        self.connection.modify(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, Jsonb(value)),
        )

    def load_tables(self) -> list[tuple[int, str]]:
        return self.connection.query("SELECT table_number, name FROM tables")  # type: ignore[return-value]

    def add_table(self, table_number: int, name: str) -> None:
        self.connection.modify("INSERT INTO tables (table_number, name) VALUES (%s, %s)", (table_number, name))

    def load_indexes(self) -> list[tuple[int, int, str, str]]:
        return self.connection.query("SELECT index_id, table_number, name, fields FROM indexes ORDER BY index_id")  # type: ignore[return-value]

    def add_index(self, table_number: int, name: str, fields_json: str) -> int:
        cursor = self.connection.modify(
            "INSERT INTO indexes (table_number, name, fields) VALUES (%s, %s, %s) RETURNING index_id",
            (table_number, name, fields_json),
        )
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])

    def drop_index(self, index_id: int) -> None:
        self.connection.modify("DELETE FROM index_entries WHERE index_id = %s", (index_id,))
        self.connection.modify("DELETE FROM indexes WHERE index_id = %s", (index_id,))

    # --- documents --------------------------------------------------------------------------
    def get_body(self, doc_id: str) -> bytes | None:
        rows = self.connection.query("SELECT body FROM documents WHERE id = %s", (doc_id,))
        return rows[0][0] if rows else None

    def get_sized(self, doc_id: str) -> tuple[bytes, int] | None:
        """The document's body and its Convex size, or None."""
        rows = self.connection.query("SELECT body, size FROM documents WHERE id = %s", (doc_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def put_document(self, doc_id: str, table_number: int, body: bytes, size: int) -> None:
        self.connection.modify(
            "INSERT INTO documents (id, table_number, body, size) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body, size = excluded.size",
            (doc_id, table_number, body, size),
        )

    def delete_document(self, doc_id: str) -> None:
        self.connection.modify("DELETE FROM documents WHERE id = %s", (doc_id,))

    def table_documents(self, table_number: int) -> Iterator[bytes]:
        """Every document body of a table, in no particular order (for backfills and exports)."""
        for (body,) in self.connection.query("SELECT body FROM documents WHERE table_number = %s", (table_number,)):
            yield body

    # --- index entries ----------------------------------------------------------------------
    def put_entry(self, index_id: int, key: bytes, doc_id: str) -> None:
        self.connection.modify("INSERT INTO index_entries (index_id, key, doc_id) VALUES (%s, %s, %s)", (index_id, key, doc_id))

    def delete_entry(self, index_id: int, key: bytes) -> None:
        self.connection.modify("DELETE FROM index_entries WHERE index_id = %s AND key = %s", (index_id, key))

    def count_entries(self, index_id: int) -> int:
        return int(self.connection.query("SELECT count(*) FROM index_entries WHERE index_id = %s", (index_id,))[0][0])

    def scan(
        self, index_id: int, low: bytes, high: bytes | None, *, descending: bool, limit: int
    ) -> list[tuple[bytes, bytes, int]]:
        """Up to ``limit`` (key, body, Convex size) rows with ``low <= key < high`` in byte order."""
        order = "DESC" if descending else "ASC"
        select = "SELECT e.key, d.body, d.size FROM index_entries e JOIN documents d ON d.id = e.doc_id "
        if high is None:
            sql = f"{select}WHERE e.index_id = %s AND e.key >= %s ORDER BY e.key {order} LIMIT %s"
            return self.connection.query(sql, (index_id, low, limit))  # type: ignore[return-value]
        sql = f"{select}WHERE e.index_id = %s AND e.key >= %s AND e.key < %s ORDER BY e.key {order} LIMIT %s"
        return self.connection.query(sql, (index_id, low, high, limit))  # type: ignore[return-value]

    # --- mutation receipts (runtime.store.receipts) -----------------------------------------
    def find_receipts(self, keys: list[ReceiptKey]) -> dict[ReceiptKey, tuple[int, bytes]]:
        """The (ts, stored outcome) of those of ``keys`` that have a receipt: one statement."""
        values = ", ".join(["(%s, %s::bigint, %s)"] * len(keys))
        sql = (
            "SELECT session, request, principal, ts, outcome FROM mutation_receipts "
            f"WHERE (session, request, principal) IN (VALUES {values})"
        )
        rows = self.connection.query(sql, tuple(part for key in keys for part in key))
        return {(session, request, principal): (ts, outcome) for session, request, principal, ts, outcome in rows}

    def add_receipts(self, receipts: list[tuple[ReceiptKey, int, bytes]]) -> None:
        """Store receipts (key, commit ts, stored outcome): one statement; a key already stored is kept."""
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(receipts))
        parameters = tuple(part for key, ts, outcome in receipts for part in (*key, ts, outcome))
        self.connection.modify(
            f"INSERT INTO mutation_receipts (session, request, principal, ts, outcome) VALUES {values} "
            "ON CONFLICT DO NOTHING",
            parameters,
        )

    def prune_receipts(self, before_ts: int) -> None:
        """Delete the receipts of mutations committed before ``before_ts``."""
        self.connection.modify("DELETE FROM mutation_receipts WHERE ts < %s", (before_ts,))
