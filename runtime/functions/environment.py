"""Environment variables: per-deployment settings (API keys, URLs) that functions read as ``ctx.env``.

They are rows ``{name, value}`` of the system table ``_environment_variables`` in the deployment's
own database, so they survive restarts, change atomically, and a query that read them is
invalidated like any other read when one of them changes.

Functions see them on every context as ``ctx.env``, a read-only mapping like ``os.environ``
(``ctx.env["API_KEY"]``, ``ctx.env.get("API_KEY")``, ``"API_KEY" in ctx.env``), read once per
execution: in queries and mutations inside the function's own transaction, in actions at the
latest committed state. ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` are always present, taken
from the executor's URLs; they cannot be set.

Tools manage the variables with ``list_env``, ``get_env``, ``set_env`` and ``remove_env``, all
coroutines taking the ``Database``. Names follow Convex's rules: a letter, then letters, digits
and underscores, at most ``knobs.MAX_ENV_NAME_LENGTH`` characters; values are strings of at most
``knobs.MAX_ENV_VALUE_BYTES`` UTF-8 bytes; at most ``knobs.MAX_ENV_VARS`` variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from runtime import knobs
from runtime.database.read_set import Interval
from runtime.database.transaction import Transaction
from runtime.store.catalog import BY_CREATION_TIME
from runtime.values.errors import ConvexValueError
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.database.database import Database
    from runtime.functions.execution import Execution, ExecutionHost

ENVIRONMENT_VARIABLES = "_environment_variables"
SYSTEM_VARIABLES = ("CONVEX_CLOUD_URL", "CONVEX_SITE_URL")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def check_name(name: object) -> str:
    """``name`` if it is a valid variable name that may be set, else an error saying why not."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConvexValueError(
            f"Invalid environment variable name {name!r}: names must start with a letter and contain only "
            "letters, numbers and underscores"
        )
    if len(name) > knobs.MAX_ENV_NAME_LENGTH:
        raise ConvexValueError(
            f"Invalid environment variable name {name!r}: names cannot be more than "
            f"{knobs.MAX_ENV_NAME_LENGTH} characters long"
        )
    if name in SYSTEM_VARIABLES:
        raise ConvexValueError(f"{name} is a built-in environment variable and cannot be set")
    return name


def check_value(name: str, value: object) -> str:
    """``value`` if it may be stored under ``name``."""
    if not isinstance(value, str):
        raise ConvexValueError(f"The value of environment variable {name} must be a string")
    size = len(value.encode("utf-8"))
    if size > knobs.MAX_ENV_VALUE_BYTES:
        raise ConvexValueError(
            f"The value of environment variable {name} is too large ({size} bytes > maximum {knobs.MAX_ENV_VALUE_BYTES} bytes)"
        )
    return value


# --- rows ---------------------------------------------------------------------------------------
def _rows(transaction: Transaction) -> list[dict[str, Value]]:
    """Every variable row, read through the transaction (one interval: the whole table)."""
    table_number = transaction.catalog.table_numbers[ENVIRONMENT_VARIABLES]
    index = transaction.catalog.index(table_number, BY_CREATION_TIME)
    assert index is not None
    scan = transaction.scan(index, Interval(b"", None), descending=False)
    try:
        return [document for _, document in scan]
    finally:
        scan.close()


def read_variables(transaction: Transaction) -> dict[str, str]:
    """The stored variables, by name."""
    return {str(row["name"]): str(row["value"]) for row in _rows(transaction)}


def system_variables(executor: ExecutionHost) -> dict[str, str]:
    """The built-in variables: where this deployment is served."""
    return {"CONVEX_CLOUD_URL": executor.cloud_url, "CONVEX_SITE_URL": executor.site_url}


# --- the tools' API -----------------------------------------------------------------------------
async def list_env(database: Database) -> dict[str, str]:
    """Every stored variable (the built-in ones excluded), by name."""
    with database.snapshot() as ts:
        return read_variables(database.read_transaction(ts))


async def get_env(database: Database, name: str) -> str | None:
    """The value of ``name``, or None if it is not set."""
    return (await list_env(database)).get(name)


async def set_env(database: Database, name: str, value: str) -> None:
    """Create or change a variable (committed before this returns)."""
    check_value(check_name(name), value)

    def body(transaction: Transaction) -> None:
        rows = _rows(transaction)
        existing = next((row for row in rows if row["name"] == name), None)
        if existing is not None:
            transaction.patch(str(existing["_id"]), {"value": value}, system=True)
            return
        if len(rows) >= knobs.MAX_ENV_VARS:
            raise ConvexValueError(f"Too many environment variables (limit: {knobs.MAX_ENV_VARS})")
        transaction.insert(ENVIRONMENT_VARIABLES, {"name": name, "value": value}, system=True)

    await database.mutate(body)


async def remove_env(database: Database, name: str) -> bool:
    """Delete a variable; returns whether it was set."""

    def body(transaction: Transaction) -> bool:
        for row in _rows(transaction):
            if row["name"] == name:
                transaction.delete(str(row["_id"]), system=True)
                return True
        return False

    return (await database.mutate(body)).value


# --- ctx.env ------------------------------------------------------------------------------------
class Environment(Mapping[str, str]):
    """``ctx.env``: the deployment's variables as a read-only mapping, loaded on first use."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution
        self._loaded: dict[str, str] | None = None

    def _variables(self) -> dict[str, str]:
        if self._loaded is None:
            executor = self._execution.executor
            transaction = self._execution.transaction
            if transaction is not None:
                stored = read_variables(transaction)
            else:
                with executor.database.snapshot() as ts:
                    stored = read_variables(executor.database.read_transaction(ts))
            self._loaded = {**system_variables(executor), **stored}
        return self._loaded

    def __getitem__(self, name: str) -> str:
        return self._variables()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables())

    def __len__(self) -> int:
        return len(self._variables())

    def __repr__(self) -> str:
        return f"<ctx.env: {', '.join(sorted(self._variables()))}>"
