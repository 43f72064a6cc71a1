"""Text search on PostgreSQL: the search indexes of ``runtime.database.search`` as ``tsvector`` rows.

One table holds every search index's entries: the document id, its creation time, its filter
fields as order-preserving key bytes (so ``eq`` filters use Convex's total-order equality) and its
tokens as a ``tsvector``. Tokens come from ``runtime.store.search_terms.tokenize`` (not PostgreSQL's parser),
written with their positions, so both stores match exactly the same documents: at least one query
term, the last one also as a prefix.

Relevance differs from SQLite in one documented way: SQLite orders by FTS5's BM25, PostgreSQL by
``ts_rank`` normalised by document length (``normalization = 1``). Both rank documents holding more
of the query's terms, more often, in shorter text first; exact ties are broken newest first in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from runtime.store.catalog import field_value
from runtime.store.search_terms import tokenize
from runtime.store.sqlite import decode_document
from runtime.values.keys import encode_value

if TYPE_CHECKING:
    from runtime.values.schema import SearchIndexDefinition
    from runtime.values.values import Value

_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_indexes (name text PRIMARY KEY, signature text NOT NULL);
CREATE TABLE IF NOT EXISTS search_entries (
    index_name text NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    creation_time double precision NOT NULL,
    filters bytea[] NOT NULL,
    tokens tsvector NOT NULL,
    PRIMARY KEY (index_name, doc_id)
);
CREATE INDEX IF NOT EXISTS search_entries_tokens ON search_entries USING gin (tokens);
"""


class PgStatements(Protocol):
    """What the index tables use of ``runtime.store.postgres.PgConnection``, which opens them."""

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    def modify(self, sql: str, parameters: tuple[Any, ...] = ()) -> object: ...


Definition = TypeVar("Definition")  # a search or vector index definition
# tsvector positions stop at 16383; later tokens are kept at that position.
_MAX_POSITION = 16383


def _tsvector(tokens: list[str]) -> str:
    """``tsvector`` input text for ``tokens`` (letters and digits only, so quoting is safe)."""
    return " ".join(f"'{token}':{min(position, _MAX_POSITION)}" for position, token in enumerate(tokens, start=1))


def rebuild_changed(
    connection: PgStatements,
    registry: str,
    wanted: dict[str, tuple[int, Definition, str]],
    drop: Callable[[str], None],
    create: Callable[[str, Definition], None],
    insert: Callable[[str, Definition, dict[str, Value]], None],
) -> None:
    """Make the indexes recorded in the table ``registry`` (name, signature) match ``wanted`` (name ->
    table number, definition, signature): one that is new or changed is dropped, ``create``d and
    filled with every document of its table; one no longer wanted is dropped."""
    existing = dict(connection.query(f"SELECT name, signature FROM {registry}"))
    for name, (table_number, index, signature) in wanted.items():
        if existing.get(name) == signature:
            continue
        drop(name)
        connection.modify(f"INSERT INTO {registry} (name, signature) VALUES (%s, %s)", (name, signature))
        create(name, index)
        for (body,) in connection.query("SELECT body FROM documents WHERE table_number = %s", (table_number,)):
            insert(name, index, decode_document(body))
    for name in existing:
        if name not in wanted:
            drop(name)


def tsquery(terms: tuple[str, ...]) -> str:
    """Any of ``terms``, the last one also as a prefix, as ``tsquery`` input text."""
    *whole, last = terms
    return " | ".join([*(f"'{term}'" for term in whole), f"'{last}':*"])


class SearchTerms(Protocol):
    """What a search looks for: its terms (the last one also as a prefix) and its ``eq`` filters."""

    @property
    def terms(self) -> tuple[str, ...]: ...

    @property
    def filters(self) -> tuple[tuple[str, Any], ...]: ...


class SearchPlan(Protocol):
    """A validated search as the database plans it (``runtime.database.search.SearchPlan``)."""

    @property
    def fts_name(self) -> str: ...

    @property
    def index(self) -> SearchIndexDefinition: ...

    @property
    def read(self) -> SearchTerms: ...


class PgTextSearch:
    """The search-index rows of one PostgreSQL connection (``runtime.database.search.SearchIndexes`` calls it)."""

    def __init__(self, connection: PgStatements) -> None:
        self.connection = connection

    def create_schema(self) -> None:
        self.connection.modify(_SCHEMA)

    def apply(self, wanted: dict[str, tuple[int, SearchIndexDefinition, str]]) -> None:
        """Make the stored indexes match ``wanted`` (name -> table number, definition, signature)."""
        rebuild_changed(self.connection, "search_indexes", wanted, self._drop, lambda name, index: None, self.insert)

    def _drop(self, name: str) -> None:
        self.connection.modify("DELETE FROM search_entries WHERE index_name = %s", (name,))
        self.connection.modify("DELETE FROM search_indexes WHERE name = %s", (name,))

    def delete(self, name: str, doc_id: str) -> None:
        self.connection.modify("DELETE FROM search_entries WHERE index_name = %s AND doc_id = %s", (name, doc_id))

    def insert(self, name: str, index: SearchIndexDefinition, document: dict[str, Value]) -> None:
        text = field_value(document, index.search_field)
        if not isinstance(text, str):
            return
        filters = [encode_value(field_value(document, field)) for field in index.filter_fields]
        self.connection.modify(
            "INSERT INTO search_entries (index_name, doc_id, creation_time, filters, tokens) "
            "VALUES (%s, %s, %s, %s, %s::tsvector)",
            (name, document["_id"], document["_creationTime"], filters, _tsvector(tokenize(text))),
        )

    def search(self, plan: SearchPlan, limit: int) -> list[bytes]:
        """Bodies of up to ``limit`` matching documents, most relevant first, ties newest first."""
        query = tsquery(plan.read.terms)
        conditions = ["s.index_name = %s", "s.tokens @@ %s::tsquery"]
        parameters: list[Any] = [plan.fts_name, query]
        for field, value in plan.read.filters:
            conditions.append(f"s.filters[{plan.index.filter_fields.index(field) + 1}] = %s")
            parameters.append(encode_value(value))
        sql = (
            "SELECT d.body FROM search_entries s JOIN documents d ON d.id = s.doc_id "
            f"WHERE {' AND '.join(conditions)} "
            "ORDER BY ts_rank(s.tokens, %s::tsquery, 1) DESC, s.creation_time DESC LIMIT %s"
        )
        return [body for (body,) in self.connection.query(sql, (*parameters, query, limit))]
