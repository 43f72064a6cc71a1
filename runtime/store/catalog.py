"""The catalog: table names and numbers, and every index with the fields its keys are made of.

Ids encode a table *number* and keys are grouped by index *id*; the catalog maps both to the
names user code speaks. It mirrors the ``tables`` and ``indexes`` rows of the store and is
rebuilt from them whenever a transaction that changed them is rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from runtime.store.rows import Rows
from runtime.values.keys import encode_key, encode_value
from runtime.values.values import UNDEFINED, Value

FIRST_USER_TABLE_NUMBER: Final = 10001
SYSTEM_TABLE_NUMBERS: Final = {
    "_scheduled_functions": 1,
    "_storage": 2,
    "_environment_variables": 3,
    "_cron_jobs": 4,
    "_cron_job_logs": 5,
}
# The system tables function code may read through ``ctx.db.system``, as in Convex; the others
# (environment variables and their secret values, cron bookkeeping) stay private to the runtime.
READABLE_SYSTEM_TABLES: Final = frozenset({"_scheduled_functions", "_storage"})


def private_system_table(table: str) -> str:
    """The refusal of ``ctx.db.system`` for a table it may not read."""
    readable = " and ".join(sorted(READABLE_SYSTEM_TABLES))
    return f'System table "{table}" cannot be read by functions: db.system can only read {readable}.'
BY_ID: Final = "by_id"
BY_CREATION_TIME: Final = "by_creation_time"


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """One index of one table. Keys are ``fields`` then ``_creationTime`` then ``_id``."""

    index_id: int
    table_number: int
    table_name: str
    name: str
    fields: tuple[str, ...]

    @property
    def is_by_id(self) -> bool:
        return self.name == BY_ID

    @property
    def key_fields(self) -> tuple[str, ...]:
        """Every field of the key, in order, as range expressions may name them."""
        if self.is_by_id:
            return ("_id",)
        return (*self.fields, "_creationTime", "_id")

    def key_of(self, document: dict[str, Value]) -> bytes:
        """This index's key for ``document``."""
        if self.is_by_id:
            return encode_value(document["_id"])
        values = [field_value(document, path) for path in self.fields]
        values.append(document["_creationTime"])
        values.append(document["_id"])
        return encode_key(values)


def field_value(document: dict[str, Value], path: str) -> Value:
    """The value at a dotted path, or ``UNDEFINED`` when any step is missing or not an object."""
    value: Value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return UNDEFINED
        value = value[part]
    return value


class Catalog:
    """In-memory view of the store's ``tables`` and ``indexes`` rows."""

    def __init__(self) -> None:
        self.table_numbers: dict[str, int] = {}
        self.table_names: dict[int, str] = {}
        self.indexes: dict[tuple[int, str], IndexInfo] = {}
        # Every index of each table (both system indexes included): what every write must maintain.
        self.stored_indexes: dict[int, list[IndexInfo]] = {}
        # Changes with every change to the view: a mutation run against an older one is run again.
        self.version = 0

    def load(self, rows: Rows) -> None:
        """Replace this view with what the store holds.

        The new view is built aside and swapped in, so that a function running on a worker thread
        meanwhile (another server's new table arriving, ``runtime.database.commit_feed``) never sees it empty.
        """
        fresh = Catalog()
        for table_number, name in rows.load_tables():
            fresh.table_numbers[name] = table_number
            fresh.table_names[table_number] = name
        for index_id, table_number, name, fields_json in rows.load_indexes():
            fields = tuple(json.loads(fields_json))
            fresh._remember(IndexInfo(index_id, table_number, fresh.table_names[table_number], name, fields))
        self.table_names, self.indexes, self.stored_indexes = fresh.table_names, fresh.indexes, fresh.stored_indexes
        self.table_numbers = fresh.table_numbers
        self.version += 1

    def _remember(self, info: IndexInfo) -> None:
        self.version += 1
        self.indexes[(info.table_number, info.name)] = info
        self.stored_indexes.setdefault(info.table_number, []).append(info)

    def table_name(self, table_number: int) -> str | None:
        """The name of a table number (the ``TableNames`` protocol validators use)."""
        return self.table_names.get(table_number)

    def index(self, table_number: int, name: str) -> IndexInfo | None:
        return self.indexes.get((table_number, name))

    def create_table(self, rows: Rows, name: str, *, number: int | None = None) -> int:
        """Register a table and its two system indexes; returns its number.

        ``number`` keeps the number a table had elsewhere (an import keeping its document ids).
        """
        if name in SYSTEM_TABLE_NUMBERS:
            number = SYSTEM_TABLE_NUMBERS[name]
        elif number is None:
            number = max([FIRST_USER_TABLE_NUMBER - 1, *(n for n in self.table_names if n >= FIRST_USER_TABLE_NUMBER)]) + 1
        rows.add_table(number, name)
        self.version += 1
        self.table_numbers[name] = number
        self.table_names[number] = name
        self.add_index(rows, number, BY_ID, ())
        self.add_index(rows, number, BY_CREATION_TIME, ())
        return number

    def add_index(self, rows: Rows, table_number: int, name: str, fields: tuple[str, ...]) -> IndexInfo:
        index_id = rows.add_index(table_number, name, json.dumps(list(fields)))
        info = IndexInfo(index_id, table_number, self.table_names[table_number], name, fields)
        self._remember(info)
        return info

    def drop_index(self, rows: Rows, info: IndexInfo) -> None:
        rows.drop_index(info.index_id)
        self.version += 1
        del self.indexes[(info.table_number, info.name)]
        self.stored_indexes[info.table_number].remove(info)
