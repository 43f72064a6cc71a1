"""Vector search on PostgreSQL with pgvector: the vector indexes of a schema as HNSW indexes.

Without the ``vector`` extension (or with ``knobs.PGVECTOR`` 0), vector search is the exact cosine
scan of ``runtime.database.search`` on both stores. With it, every vector index's entries are rows of one
table, ``vector_entries`` (the document id, its filter fields as order-preserving key bytes, so
``eq`` filters use Convex's total-order equality, and its vector), maintained by every write in
the writing transaction, as text search's are. Each index gets a partial HNSW index over its rows
(cosine distance; pgvector indexes up to ``MAX_INDEXED_DIMENSIONS``, larger ones are scanned in SQL),
so a search reads about ``limit`` rows instead of the whole table.

The index picks the candidates; their scores are then computed exactly from the documents, as the
scan computes them (``runtime.database.search.vector_search``), since pgvector stores single-precision
floats. HNSW is approximate: on large indexes a search may miss a neighbour the exact scan finds,
as Convex's own vector search may. A filtered search keeps walking the graph until ``limit`` rows
pass the filter (pgvector's iterative scans, from 0.8), so filters do not shorten its results.

A document whose vector is not ``dimensions`` finite numbers has no entry, as the scan skips it;
PostgreSQL stores no NaN or infinity in a ``vector``.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any, Final, Protocol

from runtime import knobs
from runtime.store.catalog import field_value
from runtime.store.pg_search import PgStatements, rebuild_changed
from runtime.store.rows import StoreError
from runtime.values.keys import encode_value

if TYPE_CHECKING:
    from runtime.values.schema import VectorIndexDefinition
    from runtime.values.values import Value

MAX_INDEXED_DIMENSIONS: Final = 2000  # pgvector's limit for an HNSW index on ``vector``
_ITERATIVE_SCANS: Final = (0, 8)  # the extension version that walks on past filtered-out rows
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vector_indexes (name text PRIMARY KEY, signature text NOT NULL);
CREATE TABLE IF NOT EXISTS vector_entries (
    index_name text NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    filters bytea[] NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (index_name, doc_id)
);
"""


def vector_text(vector: list[Any]) -> str | None:
    """``vector`` input text, or None when it is not all finite numbers (no entry, no index search)."""
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in vector):
        return None
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _hnsw_name(name: str) -> str:
    """The HNSW index of vector index ``name``: a fixed-length identifier (PostgreSQL keeps 63 bytes)."""
    return "vector_hnsw_" + hashlib.sha256(name.encode()).hexdigest()[:24]


class PgSession(PgStatements, Protocol):
    """``PgStatements`` plus the savepoint statements that creating the extension needs."""

    def execute(self, statement: str) -> None: ...


class PgVectors:
    """The vector-index rows of one PostgreSQL connection (``runtime.database.search`` calls it)."""

    def __init__(self, connection: PgSession) -> None:
        self.connection = connection
        self._version: tuple[int, ...] | None = None  # the extension's, once looked up; () when absent

    @property
    def enabled(self) -> bool:
        """Whether searches and writes use pgvector: the extension is installed and ``knobs.PGVECTOR`` is on."""
        if self._version is None:
            rows = self.connection.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            self._version = tuple(int(part) for part in str(rows[0][0]).split(".")) if rows else ()
        return bool(knobs.PGVECTOR and self._version)

    def create_schema(self) -> None:
        """Create the extension if PostgreSQL has it (in the schema's transaction), then its tables."""
        if not knobs.PGVECTOR:
            return
        if not self.connection.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
            return
        self.connection.execute("SAVEPOINT vector_extension")
        try:
            self.connection.modify("CREATE EXTENSION IF NOT EXISTS vector")
        except StoreError:  # not allowed to create it: the exact scan serves
            self.connection.execute("ROLLBACK TO vector_extension")
        self.connection.execute("RELEASE vector_extension")
        self._version = None
        if self.enabled:
            self.connection.modify(_SCHEMA)

    def apply(self, wanted: dict[str, tuple[int, VectorIndexDefinition, str]]) -> None:
        """Make the stored indexes match ``wanted`` (name -> table number, definition, signature)."""
        rebuild_changed(self.connection, "vector_indexes", wanted, self._drop, self._create, self.insert)

    def _create(self, name: str, index: VectorIndexDefinition) -> None:
        if index.dimensions <= MAX_INDEXED_DIMENSIONS:
            # Literal name and dimensions: the planner matches a partial index only to constants.
            self.connection.modify(
                f"CREATE INDEX {_hnsw_name(name)} ON vector_entries USING hnsw "
                f"((embedding::vector({index.dimensions})) vector_cosine_ops) WHERE index_name = '{name}'"
            )

    def _drop(self, name: str) -> None:
        self.connection.modify(f"DROP INDEX IF EXISTS {_hnsw_name(name)}")
        self.connection.modify("DELETE FROM vector_entries WHERE index_name = %s", (name,))
        self.connection.modify("DELETE FROM vector_indexes WHERE name = %s", (name,))

    def delete(self, name: str, doc_id: str) -> None:
        self.connection.modify("DELETE FROM vector_entries WHERE index_name = %s AND doc_id = %s", (name, doc_id))

    def insert(self, name: str, index: VectorIndexDefinition, document: dict[str, Value]) -> None:
        vector = field_value(document, index.vector_field)
        if not isinstance(vector, list) or len(vector) != index.dimensions:
            return
        text = vector_text(vector)
        if text is None:
            return
        filters = [encode_value(field_value(document, field)) for field in index.filter_fields]
        self.connection.modify(
            "INSERT INTO vector_entries (index_name, doc_id, filters, embedding) VALUES (%s, %s, %s, %s::vector)",
            (name, document["_id"], filters, text),
        )

    def candidates(
        self, name: str, index: VectorIndexDefinition, vector: str, limit: int, filters: list[tuple[str, Value]]
    ) -> list[bytes]:
        """Bodies of the ``limit`` documents nearest ``vector`` (input text) that pass any of ``filters``.

        Call inside a transaction: the search settings it makes last until its end.
        """
        dimensions = index.dimensions
        self.connection.query("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(40, limit)),))
        if self._version is not None and self._version >= _ITERATIVE_SCANS:
            self.connection.query("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
        conditions = [f"v.index_name = '{name}'"]
        parameters: list[Any] = []
        if filters:
            alternatives = [f"v.filters[{index.filter_fields.index(field) + 1}] = %s" for field, _ in filters]
            conditions.append(f"({' OR '.join(alternatives)})")
            parameters += [encode_value(value) for _, value in filters]
        nearest = (
            f"SELECT v.doc_id FROM vector_entries v WHERE {' AND '.join(conditions)} "
            f"ORDER BY v.embedding::vector({dimensions}) <=> %s::vector({dimensions}) LIMIT %s"
        )
        sql = f"SELECT d.body FROM ({nearest}) n JOIN documents d ON d.id = n.doc_id"
        return [body for (body,) in self.connection.query(sql, (*parameters, vector, limit))]
