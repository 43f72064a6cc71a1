"""Bulk loading of documents that keep their identity: snapshot imports and restores.

An import differs from inserts in three ways: documents arrive with their own ``_id`` and
``_creationTime`` (an export → import round trip must not change them), a table may have to be
created under the number its ids encode, and the whole load is one transaction however many
documents it holds (Convex's per-mutation write limits do not apply). What still applies is every
rule a document must meet: valid values, field names, size, nesting, and the table's schema.

Both steps run inside the database's writer, as one transaction (``Database.import_documents``):
``plan_import`` checks every document before anything is written, so a bad file never leaves half
a load behind, and ``write_import`` checks what depends on the current contents (an empty table,
an id already taken) before its first write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from runtime import knobs
from runtime.database.transaction import Transaction
from runtime.store.catalog import BY_CREATION_TIME, FIRST_USER_TABLE_NUMBER, SYSTEM_TABLE_NUMBERS, Catalog
from runtime.store.sqlite import decode_document
from runtime.values.errors import ConvexValueError, InvalidIdError, SchemaValidationError
from runtime.values.ids import decode_id, new_id
from runtime.values.schema import SYSTEM_FIELDS, SchemaDefinition
from runtime.values.validators import identifier_error
from runtime.values.values import Value, check_value, value_size

ImportMode = Literal["require_empty", "append", "replace"]
IMPORT_MODES: tuple[ImportMode, ...] = ("require_empty", "append", "replace")
IMPORTABLE_SYSTEM_TABLES = ("_storage",)


class ImportRejectedError(Exception):
    """The documents cannot be imported as given; nothing was written."""


@dataclass
class TablePlan:
    """One table of an import: where its documents go and the documents themselves."""

    name: str
    number: int  # the table number its ids encode (existing table, or the one to create)
    documents: list[dict[str, Value]] = field(default_factory=list)


class _PlannedTables:
    """Table names for ``v.id`` checks: the catalog plus the tables the import will create."""

    def __init__(self, catalog: Catalog, planned: Mapping[int, str]) -> None:
        self._catalog = catalog
        self._planned = planned

    def table_name(self, table_number: int) -> str | None:
        return self._catalog.table_name(table_number) or self._planned.get(table_number)


def plan_import(
    tables: Mapping[str, Sequence[dict[str, Value]]],
    catalog: Catalog,
    schema: SchemaDefinition | None,
    table_numbers: Mapping[str, int] | None = None,
) -> list[TablePlan]:
    """Check every document of every table; raise ``ImportRejectedError`` naming the first problem.

    ``table_numbers`` are the numbers tables had where the documents came from (a snapshot's
    ``_tables``); they decide the number of a new table that has no document ids to go by.
    """
    hints = dict(table_numbers or {})
    plans: list[TablePlan] = []
    taken = dict(catalog.table_names)  # number -> name, growing with the tables this import creates
    for name, documents in tables.items():
        _check_table_name(name)
        number = _table_number(name, documents, catalog, hints.get(name), taken)
        taken[number] = name
        plans.append(TablePlan(name, number))
    names = _PlannedTables(catalog, {plan.number: plan.name for plan in plans})
    for plan in plans:
        seen: set[str] = set()
        for position, document in enumerate(tables[plan.name], start=1):
            where = f"table {plan.name!r}, document {position}"
            plan.documents.append(_checked_document(document, plan, schema, names, seen, where))
    return plans


def _check_table_name(name: str) -> None:
    if name in IMPORTABLE_SYSTEM_TABLES:
        return
    error = identifier_error(name) if isinstance(name, str) else "table names are strings"
    if error is not None or name.startswith("_"):
        raise ImportRejectedError(f"Invalid table name {name!r}: {error or 'system tables cannot be imported'}")


def _table_number(
    name: str, documents: Sequence[dict[str, Value]], catalog: Catalog, hint: int | None, taken: Mapping[int, str]
) -> int:
    existing = catalog.table_numbers.get(name)
    if existing is not None:
        return existing
    if name in SYSTEM_TABLE_NUMBERS:
        return SYSTEM_TABLE_NUMBERS[name]
    from_ids = {
        _id_table_number(document) for document in documents if isinstance(document, dict) and "_id" in document
    }
    from_ids.discard(None)
    if len(from_ids) > 1:
        raise ImportRejectedError(f"The documents of table {name!r} have ids of {len(from_ids)} different tables")
    fresh = max([FIRST_USER_TABLE_NUMBER - 1, *(n for n in taken if n >= FIRST_USER_TABLE_NUMBER)]) + 1
    if not from_ids:
        # No ids to keep: the old number is only a preference.
        return hint if hint is not None and hint >= FIRST_USER_TABLE_NUMBER and hint not in taken else fresh
    number = from_ids.pop()
    if number < FIRST_USER_TABLE_NUMBER:
        raise ImportRejectedError(f"Table {name!r} cannot have number {number}: that range is for system tables")
    if number in taken:
        raise ImportRejectedError(
            f"Cannot import table {name!r} keeping its document ids: they belong to table number {number}, "
            f"which is table {taken[number]!r} in this database"
        )
    return number


def _id_table_number(document: dict[str, Value]) -> int | None:
    try:
        return decode_id(document["_id"])[0]  # type: ignore[arg-type]
    except (InvalidIdError, TypeError):
        return None  # reported with its position by _checked_document


def _checked_document(
    document: object,
    plan: TablePlan,
    schema: SchemaDefinition | None,
    names: _PlannedTables,
    seen: set[str],
    where: str,
) -> dict[str, Value]:
    if not isinstance(document, dict):
        raise ImportRejectedError(f"{where}: expected an object, got {type(document).__name__}")
    if "_id" in document:
        doc_id = document["_id"]
        try:
            number, _ = decode_id(doc_id)  # type: ignore[arg-type]
        except (InvalidIdError, TypeError) as error:
            raise ImportRejectedError(f"{where}: invalid _id {doc_id!r}: {error}") from None
        if number != plan.number:
            raise ImportRejectedError(
                f"{where}: _id {doc_id} is an id of table number {number}, but {plan.name!r} is table number "
                f"{plan.number} here, so its ids cannot be kept"
            )
        if doc_id in seen:
            raise ImportRejectedError(f"{where}: _id {doc_id} appears twice")
        seen.add(doc_id)  # type: ignore[arg-type]
        where = f"{where} ({doc_id})"
    creation_time = document.get("_creationTime", 1.0)
    if not (isinstance(creation_time, float) and math.isfinite(creation_time) and creation_time > 0):
        raise ImportRejectedError(
            f"{where}: _creationTime must be a positive float64 (milliseconds), got {creation_time!r}"
        )
    fields = {key: item for key, item in document.items() if key not in SYSTEM_FIELDS}
    try:
        for key in fields:
            if isinstance(key, str) and key.startswith("_"):
                raise ConvexValueError(
                    f"Field '{key}' starts with an underscore, which is only allowed for system fields"
                )
        check_value(fields, max_depth=knobs.MAX_DOCUMENT_NESTING)
        if schema is not None:
            schema.validate_document(plan.name, fields, names)
        size = value_size(document)
        if size > knobs.MAX_DOCUMENT_SIZE:
            raise ConvexValueError(f"Value is too large ({size} bytes > maximum size {knobs.MAX_DOCUMENT_SIZE} bytes)")
    except (ConvexValueError, SchemaValidationError) as error:
        raise ImportRejectedError(f"{where}: {error}") from None
    return document


def write_import(transaction: Transaction, plans: Sequence[TablePlan], mode: ImportMode) -> float:
    """Write the planned tables in ``transaction`` (the writer's); return the largest ``_creationTime`` written.

    Raises ``ImportRejectedError`` before the first write when the current contents forbid the
    import: a non-empty table without ``append``/``replace``, or an ``_id`` that already exists.
    """
    rows, catalog, database = transaction.rows, transaction.catalog, transaction.database
    for plan in plans:
        number = catalog.table_numbers.get(plan.name)
        if number is None:
            continue
        by_creation = catalog.index(number, BY_CREATION_TIME)
        assert by_creation is not None
        count = rows.count_entries(by_creation.index_id)
        if mode == "require_empty" and count:
            raise ImportRejectedError(
                f"Table {plan.name!r} is not empty ({count} document{'s' * (count != 1)}): import in append or replace mode"
            )
        if mode == "append":
            for document in plan.documents:
                if "_id" in document and rows.get_body(document["_id"]) is not None:  # type: ignore[arg-type]
                    raise ImportRejectedError(f"Table {plan.name!r} already has a document with _id {document['_id']}")
    latest = 0.0
    for plan in plans:
        if plan.name not in catalog.table_numbers:
            catalog.create_table(rows, plan.name, number=plan.number)
        if mode == "replace":
            for body in list(rows.table_documents(plan.number)):
                old = decode_document(body)
                transaction.apply_write(plan.number, old["_id"], old, None)  # type: ignore[arg-type]
        for document in plan.documents:
            stored = dict(document)
            if "_id" not in stored:
                stored["_id"] = new_id(plan.number)
            if "_creationTime" not in stored:
                stored["_creationTime"] = database.next_creation_time()
            latest = max(latest, stored["_creationTime"])  # type: ignore[type-var]
            ordered = {"_id": stored.pop("_id"), "_creationTime": stored.pop("_creationTime"), **stored}
            transaction.apply_write(plan.number, ordered["_id"], None, ordered)  # type: ignore[arg-type]
    return latest
