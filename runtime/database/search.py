"""Text search over declared search indexes (SQLite FTS5), and vector search over vector indexes.

Each search index is an FTS5 table in the same SQLite file as the documents, maintained by every
write in the writing transaction, so search sees a mutation's own writes and rolls back with it.
Tokens are runs of letters and digits, lower-cased, as in Convex; a document matches when its
search field holds at least one query term, the last term also matching as a prefix; results come
in BM25 relevance order, equally relevant documents newest first. Filter fields are stored beside
the text as order-preserving key bytes, so ``eq`` filters use Convex's total-order equality.

Vector search is an exact cosine scan of the table, except on PostgreSQL with the pgvector
extension, where each vector index is an HNSW index kept in step by the same writes
(``runtime.store.pg_vectors``) and the scan scores only the candidates it returns.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runtime import knobs
from runtime.database.read_set import DocumentWrite, SearchRead
from runtime.store.catalog import field_value
from runtime.store.pg_vectors import vector_text
from runtime.store.search_terms import tokenize
from runtime.store.sqlite import decode_document
from runtime.values.errors import ConvexValueError
from runtime.values.keys import encode_value
from runtime.values.values import UNDEFINED, Value, check_value, compare_values

if TYPE_CHECKING:
    from runtime.database.transaction import Transaction
    from runtime.values.schema import SchemaDefinition, SearchIndexDefinition, VectorIndexDefinition

_FTS_PREFIX = "search_"


def fts_table(table_number: int, index_name: str) -> str:
    return f"{_FTS_PREFIX}{table_number}_{index_name}"


def vector_entries_name(table_number: int, index_name: str) -> str:
    """How PostgreSQL's pgvector rows name a vector index (``runtime.store.pg_vectors``)."""
    return f"vector_{table_number}_{index_name}"


def _filter_columns(index: SearchIndexDefinition) -> list[str]:
    return [f"f{position}" for position in range(len(index.filter_fields))]


class SearchIndexes:
    """Creates, backfills and maintains the FTS5 tables of a schema's search indexes (and, on
    PostgreSQL with pgvector, its vector indexes)."""

    def __init__(self) -> None:
        # table number -> (FTS table, definition) for every declared search index
        self.by_table: dict[int, list[tuple[str, SearchIndexDefinition]]] = {}
        # table number -> (pgvector name, definition) for every declared vector index
        self.vectors_by_table: dict[int, list[tuple[str, VectorIndexDefinition]]] = {}

    def follow(
        self, schema: SchemaDefinition | None, table_numbers: dict[str, int]
    ) -> dict[str, tuple[int, SearchIndexDefinition]]:
        """Search ``schema``'s indexes as another process made them (``apply``), creating nothing.

        Returns every declared index by its table's name in the store.
        """
        wanted: dict[str, tuple[int, SearchIndexDefinition]] = {}
        for table_name, table in (schema.tables if schema is not None else {}).items():
            for index in table.search_indexes:
                wanted[fts_table(table_numbers[table_name], index.name)] = (table_numbers[table_name], index)
        self.by_table = {}
        for name, (table_number, index) in wanted.items():
            self.by_table.setdefault(table_number, []).append((name, index))
        self.vectors_by_table = {}
        for table_name, table in (schema.tables if schema is not None else {}).items():
            number = table_numbers[table_name]
            for vector_index in table.vector_indexes:
                entry = (vector_entries_name(number, vector_index.name), vector_index)
                self.vectors_by_table.setdefault(number, []).append(entry)
        return wanted

    def apply(self, connection: sqlite3.Connection, schema: SchemaDefinition | None, table_numbers: dict[str, int]) -> None:
        """Make the FTS tables match the schema (inside the caller's transaction)."""
        wanted = self.follow(schema, table_numbers)
        vectors = getattr(connection, "vectors", None)  # pgvector's, on PostgreSQL (runtime.store.pg_vectors)
        if vectors is not None and vectors.enabled:
            vectors.apply(
                {
                    name: (number, index, _vector_signature(index))
                    for number, entries in self.vectors_by_table.items()
                    for name, index in entries
                }
            )
        text_search = getattr(connection, "text_search", None)  # PostgreSQL keeps its own (runtime.store)
        if text_search is not None:
            text_search.apply({name: (number, index, _signature(index)) for name, (number, index) in wanted.items()})
            return
        existing = {
            name: sql
            for name, sql in connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'search\\_%' ESCAPE '\\' "
                "AND sql LIKE '%fts5%'"
            )
        }
        for name, (table_number, index) in wanted.items():
            signature = _signature(index)
            if name in existing and signature in existing[name]:
                continue
            if name in existing:
                connection.execute(f'DROP TABLE "{name}"')
            columns = ", ".join(f"{column} UNINDEXED" for column in _filter_columns(index))
            connection.execute(
                f'CREATE VIRTUAL TABLE "{name}" USING fts5(doc_id UNINDEXED, creation_time UNINDEXED, '
                f"{'' if not columns else columns + ', '}content, tokenize='unicode61 remove_diacritics 0') "
                f"/* {signature} */"
            )
            for (body,) in connection.execute("SELECT body FROM documents WHERE table_number = ?", (table_number,)):
                self._insert(connection, name, index, decode_document(body))
        for name in existing:
            if name not in wanted:
                connection.execute(f'DROP TABLE "{name}"')

    def write_overlaps(self, read: SearchRead, write: DocumentWrite) -> bool:
        """Whether a committed write changes what a search read saw (old or new version matches)."""
        if write.table_number != read.table_number:
            return False
        index = next((index for _, index in self.by_table.get(read.table_number, ()) if index.name == read.index_name), None)
        if index is None:
            return False
        return any(
            version is not None and search_read_matches(read, version, index.search_field) for version in (write.old, write.new)
        )

    def on_write(
        self, connection: sqlite3.Connection, table_number: int, old: dict[str, Value] | None, new: dict[str, Value] | None
    ) -> None:
        """Keep every search index of the table in step with one document write."""
        if table_number in self.vectors_by_table:
            self._vectors_on_write(connection, table_number, old, new)
        text_search = getattr(connection, "text_search", None)
        for name, index in self.by_table.get(table_number, ()):
            if text_search is not None:
                if old is not None:
                    text_search.delete(name, old["_id"])
                if new is not None:
                    text_search.insert(name, index, new)
                continue
            if old is not None:
                connection.execute(f'DELETE FROM "{name}" WHERE doc_id = ?', (old["_id"],))
            if new is not None:
                self._insert(connection, name, index, new)

    def _vectors_on_write(
        self, connection: Any, table_number: int, old: dict[str, Value] | None, new: dict[str, Value] | None
    ) -> None:
        vectors = getattr(connection, "vectors", None)
        if vectors is None or not vectors.enabled:
            return  # the exact scan reads the documents themselves
        for name, index in self.vectors_by_table[table_number]:
            if old is not None:
                vectors.delete(name, old["_id"])
            if new is not None:
                vectors.insert(name, index, new)

    @staticmethod
    def _insert(connection: sqlite3.Connection, name: str, index: SearchIndexDefinition, document: dict[str, Value]) -> None:
        text = field_value(document, index.search_field)
        if not isinstance(text, str):
            return
        filters = [encode_value(field_value(document, field)) for field in index.filter_fields]
        placeholders = ", ".join("?" for _ in range(3 + len(filters)))
        columns = ", ".join(["doc_id", "creation_time", *_filter_columns(index), "content"])
        connection.execute(
            f'INSERT INTO "{name}" ({columns}) VALUES ({placeholders})',
            (document["_id"], document["_creationTime"], *filters, text),
        )


def _vector_signature(index: VectorIndexDefinition) -> str:
    return f"{index.vector_field}|{index.dimensions}|{','.join(index.filter_fields)}"


def _signature(index: SearchIndexDefinition) -> str:
    return f"opencom-search-v1:{index.search_field}:{','.join(index.filter_fields)}"


# --- the query side -----------------------------------------------------------------------------


class SearchFilterBuilder:
    """The ``q`` of ``with_search_index(name, lambda q: q.search(field, text).eq(field, value))``."""

    def __init__(self) -> None:
        self.searches: list[tuple[str, str]] = []
        self.equalities: list[tuple[str, Value]] = []

    def search(self, field: str, text: str) -> SearchFilterBuilder:
        if not isinstance(text, str):
            raise ConvexValueError(f"q.search() takes a string to search for, got {text!r}")
        self.searches.append((field, text))
        return self

    def eq(self, field: str, value: Any) -> SearchFilterBuilder:
        if value is not UNDEFINED:
            check_value(value)
        self.equalities.append((field, value))
        return self


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """A validated search: the FTS table, its terms and its filters."""

    table_number: int
    fts_name: str
    index: SearchIndexDefinition
    read: SearchRead

    @property
    def match_expression(self) -> str | None:
        terms = self.read.terms
        if not terms:
            return None
        quoted = [f'"{term}"' for term in terms]
        quoted[-1] += "*"
        return " OR ".join(quoted)


def plan_search(
    table: str, table_number: int, index: SearchIndexDefinition, builder: SearchFilterBuilder
) -> SearchPlan:
    """Check the builder against the index like Convex does, and plan the FTS query."""
    where = f"Search query against {table}.{index.name}"
    if not builder.searches:
        raise ConvexValueError(
            f"{where} does not contain any search filters. You must include a search filter like "
            f'`q.search("{index.search_field}", searchText)`.'
        )
    for field, _ in builder.searches:
        if field != index.search_field:
            raise ConvexValueError(
                f'{where} contains a search filter against "{field}", which doesn\'t match the indexed '
                f'`searchField` "{index.search_field}".'
            )
    if len(builder.searches) > 1:
        raise ConvexValueError(f'{where} contains multiple search filters against "{index.search_field}". Only one is allowed.')
    for field, _ in builder.equalities:
        if field not in index.filter_fields:
            raise ConvexValueError(
                f'{where} contains an equality filter on "{field}" but that field isn\'t indexed for filtering in `filterFields`.'
            )
    conditions = len(builder.searches) + len(builder.equalities)
    if conditions > knobs.MAX_SEARCH_FILTER_CONDITIONS:
        raise ConvexValueError(
            f"{where} has too many filter conditions. Max: {knobs.MAX_SEARCH_FILTER_CONDITIONS} Actual: {conditions}"
        )
    terms = tuple(tokenize(builder.searches[0][1])[: knobs.MAX_SEARCH_TERMS])
    read = SearchRead(table_number, index.name, terms, True, tuple(builder.equalities))
    return SearchPlan(table_number, fts_table(table_number, index.name), index, read)


def search_documents(transaction: Transaction, plan: SearchPlan) -> Iterator[dict[str, Value]]:
    """Matching documents in relevance order; pulling the 1024th candidate is an error."""
    transaction.read_set.searches.append(plan.read)
    expression = plan.match_expression
    if expression is None:
        return
    connection = transaction.search_connection(plan.table_number)
    text_search = getattr(connection, "text_search", None)
    if text_search is not None:
        bodies = text_search.search(plan, knobs.MAX_SEARCH_RESULTS)
        yield from _checked_results(transaction, bodies)
        return
    conditions = ["s.content MATCH ?"]
    parameters: list[Any] = [expression]
    for field, value in plan.read.filters:
        conditions.append(f"s.f{plan.index.filter_fields.index(field)} = ?")
        parameters.append(encode_value(value))
    sql = (
        f'SELECT d.body FROM "{plan.fts_name}" s JOIN documents d ON d.id = s.doc_id '
        f"WHERE {' AND '.join(conditions)} ORDER BY bm25(\"{plan.fts_name}\"), s.creation_time DESC LIMIT ?"
    )
    rows = connection.execute(sql, (*parameters, knobs.MAX_SEARCH_RESULTS)).fetchall()
    yield from _checked_results(transaction, [body for (body,) in rows])


def _checked_results(transaction: Transaction, bodies: list[bytes]) -> Iterator[dict[str, Value]]:
    """Decode result bodies in order; pulling the last one the store could fetch is an error."""
    for position, body in enumerate(bodies, start=1):
        if position >= knobs.MAX_SEARCH_RESULTS:
            raise ConvexValueError(
                f"Search query scanned too many documents (fetched {knobs.MAX_SEARCH_RESULTS}). Consider using a "
                "smaller limit, paginating the query, or using a filter field to limit the number of documents "
                "pulled from the search index."
            )
        transaction.check_time()
        yield decode_document(body)


def search_read_matches(read: SearchRead, document: dict[str, Value], search_field: str) -> bool:
    """Whether a written document version overlaps a search read (for subscriptions)."""
    for field, value in read.filters:
        if compare_values(field_value(document, field), value) != 0:
            return False
    text = field_value(document, search_field)
    if not isinstance(text, str) or not read.terms:
        return False
    tokens = set(tokenize(text))
    *whole, last = read.terms
    return any(term in tokens for term in whole) or any(token.startswith(last) for token in tokens)


# --- vector search (actions only) ---------------------------------------------------------------


class VectorFilterBuilder:
    """The ``q`` of a vector search filter: ``q.eq(field, value)``, or several or-ed together."""

    def eq(self, field: str, value: Any) -> list[tuple[str, Value]]:
        if not isinstance(field, str):
            raise ConvexValueError("The first argument to `q.eq` must be a field name.")
        check_value(value)
        return [(field, value)]

    def or_(self, *alternatives: list[tuple[str, Value]]) -> list[tuple[str, Value]]:
        pairs = [pair for alternative in alternatives for pair in alternative]
        if len(pairs) > knobs.MAX_VECTOR_FILTER_EXPRESSIONS:
            raise ConvexValueError(f"Vector search filters can have at most {knobs.MAX_VECTOR_FILTER_EXPRESSIONS} expressions")
        return pairs


def vector_search(
    transaction: Transaction,
    table: str,
    index: VectorIndexDefinition,
    vector: Any,
    limit: Any,
    filter_pairs: list[tuple[str, Value]],
) -> list[dict[str, Any]]:
    """Cosine similarity over the table's indexed vectors: ``[{_id, _score}]``, best first.

    The documents scored are the whole table's, or on PostgreSQL with pgvector the nearest
    ``limit`` its index finds (see the module docstring); the scores are exact either way.
    """
    if not isinstance(vector, list) or not vector:
        raise ConvexValueError("`vector` must be a non-empty Array in vectorSearch")
    if len(vector) != index.dimensions:
        raise ConvexValueError(f"Expected a vector with dimensions {index.dimensions}, received {len(vector)}.")
    if limit is None:
        limit = 10
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 1 <= limit <= knobs.MAX_VECTOR_RESULTS:
        raise ConvexValueError(f"`limit` must be between 1 and {knobs.MAX_VECTOR_RESULTS}, received {limit!r}")
    for field, _ in filter_pairs:
        if field not in index.filter_fields:
            raise ConvexValueError(f'Vector search filter on "{field}", which is not one of the index\'s `filterFields`.')
    query_norm = math.sqrt(sum(float(x) * float(x) for x in vector))
    table_number = transaction.catalog.table_numbers.get(table)
    if table_number is None:
        return []
    vectors = getattr(transaction.rows.connection, "vectors", None)
    text = vector_text(vector) if vectors is not None and vectors.enabled else None
    if text is not None:
        name = vector_entries_name(table_number, index.name)
        bodies: Iterable[bytes] = vectors.candidates(name, index, text, int(limit), filter_pairs)
    else:
        bodies = transaction.rows.table_documents(table_number)
    scored: list[tuple[float, str]] = []
    for body in bodies:
        document = decode_document(body)
        candidate = field_value(document, index.vector_field)
        if not isinstance(candidate, list) or len(candidate) != index.dimensions:
            continue
        if filter_pairs and not any(compare_values(field_value(document, f), value) == 0 for f, value in filter_pairs):
            continue
        norm = math.sqrt(sum(x * x for x in candidate))
        dot = sum(a * b for a, b in zip(vector, candidate))
        score = dot / (norm * query_norm) if norm and query_norm else 0.0
        scored.append((score, document["_id"]))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [{"_id": doc_id, "_score": score} for score, doc_id in scored[: int(limit)]]


class SnapshotReader(Protocol):
    """What ``run_vector_search`` uses of the ``runtime.database.database.Database``: schema and snapshots."""

    @property
    def schema(self) -> SchemaDefinition | None: ...

    def snapshot(self) -> AbstractContextManager[int]: ...

    def read_transaction(self, ts: int) -> Transaction: ...


def run_vector_search(
    database: SnapshotReader, table: str, index_name: str, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """``ctx.vector_search``: the latest committed data, outside any transaction (not reactive)."""
    if not isinstance(options, dict):
        raise ConvexValueError("vector_search() takes options {vector, limit?, filter?}")
    schema = database.schema
    table_definition = schema.tables.get(table) if schema is not None else None
    index = None
    if table_definition is not None:
        index = next((candidate for candidate in table_definition.vector_indexes if candidate.name == index_name), None)
    if index is None:
        raise ConvexValueError(f"Index {table}.{index_name} not found.")
    filter_function = options.get("filter")
    filter_pairs = filter_function(VectorFilterBuilder()) if filter_function is not None else []
    with database.snapshot() as ts:
        transaction = database.read_transaction(ts)
        return vector_search(transaction, table, index, options.get("vector"), options.get("limit"), filter_pairs)
