"""The ``ctx`` objects handed to functions, over the per-execution state of ``runtime.functions.execution``.

Only the capabilities of each kind exist on its context (convex-semantics §6.4): a query's
``ctx.db`` has no writer methods, actions have no ``ctx.db`` at all. Database methods are
``async`` as in Convex but never suspend, so a query or mutation runs uninterrupted; several
may still be awaited together (``asyncio.gather``), see ``runtime.functions.steps``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.database.search import run_vector_search
from runtime.database.transaction import Transaction
from runtime.functions.connection import (
    ActionConnection,
    ConnectionReader,
    ConnectionWriter,
)
from runtime.functions.environment import Environment
from runtime.functions.execution import Execution
from runtime.functions.file_storage import ActionStorage, StorageReader, StorageWriter
from runtime.functions.queries import Query
from runtime.functions.scheduler import ActionScheduler, MutationScheduler
from runtime.store.catalog import READABLE_SYSTEM_TABLES
from runtime.tokens.identity import Identity
from runtime.values.errors import ConvexValueError
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.tokens.issuer import BuiltinIssuer


class DatabaseReader:
    """``ctx.db`` of a query (and ``ctx.db.system`` everywhere): reads only."""

    def __init__(self, execution: Execution, *, system: bool = False) -> None:
        self._execution = execution
        self._system = system

    @property
    def _transaction(self) -> Transaction:
        assert self._execution.transaction is not None
        return self._execution.transaction

    @property
    def system(self) -> DatabaseReader:
        """A reader over the system tables (``_scheduled_functions``, ``_storage``)."""
        return DatabaseReader(self._execution, system=True)

    def __getattr__(self, name: str) -> Any:
        # Writer methods do not exist on a reader (as in Convex); say why instead of a bare AttributeError.
        if name in ("insert", "patch", "replace", "delete"):
            if self._system:
                raise AttributeError(f"ctx.db.system.{name} does not exist: system tables are read-only")
            raise AttributeError(f"ctx.db.{name} is not available in a query: only mutations can write to the database")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    async def get(self, table_or_id: str, doc_id: str | None = None) -> dict[str, Value] | None:
        """The document, or None. ``get(id)`` or the explicit ``get(table, id)``."""
        doc_id = self._explicit(table_or_id, doc_id, "db.get")
        if self._system:
            _, table_name = self._transaction.table_of_id(doc_id, "db.get")
            if table_name is not None and table_name.startswith("_") and table_name not in READABLE_SYSTEM_TABLES:
                return None  # a private system table is, to functions, a table that does not exist
        return self._transaction.get(doc_id, system=self._system)

    def query(self, table: str) -> Query:
        """Start a query over ``table`` (see ``runtime.query.Query``)."""
        if not isinstance(table, str):
            raise ConvexValueError(f"Invalid argument `table` for `db.query`: expected a string, got {table!r}")
        return Query(self._execution, table, system=self._system)

    def normalize_id(self, table: str, doc_id: str) -> str | None:
        """``doc_id`` if it is an id of ``table``, else None; never checks existence."""
        if table.startswith("_") and not self._system:
            raise ConvexValueError("System tables can only be accessed from db.system.normalizeId().")
        if self._system and not table.startswith("_"):
            raise ConvexValueError("User tables can only be accessed from db.normalizeId().")
        if self._system and table not in READABLE_SYSTEM_TABLES:
            return None
        return self._transaction.normalize_id(table, doc_id)

    def _explicit(self, table_or_id: str, doc_id: str | None, method: str) -> str:
        if doc_id is None:
            return table_or_id
        table_number, table_name = self._transaction.table_of_id(doc_id, method)
        if table_name != table_or_id:
            raise ConvexValueError(
                f'Invalid argument `id` for `{method}`: expected to be an Id<"{table_or_id}">, '
                f'got Id<"{table_name or table_number}"> instead.'
            )
        return doc_id


class DatabaseWriter(DatabaseReader):
    """``ctx.db`` of a mutation: reads plus ``insert``/``patch``/``replace``/``delete``."""

    async def insert(self, table: str, value: dict[str, Value]) -> str:
        """Insert a document; returns its new ``_id``."""
        return self._transaction.insert(table, value)

    async def patch(self, table_or_id: str, id_or_value: Any, value: Any = None) -> None:
        """Shallow-merge fields (``UNDEFINED`` removes one). ``patch(id, v)`` or ``patch(table, id, v)``."""
        doc_id, fields = self._id_and_value(table_or_id, id_or_value, value, "db.patch")
        self._transaction.patch(doc_id, fields)

    async def replace(self, table_or_id: str, id_or_value: Any, value: Any = None) -> None:
        """Replace all user fields. ``replace(id, v)`` or ``replace(table, id, v)``."""
        doc_id, fields = self._id_and_value(table_or_id, id_or_value, value, "db.replace")
        self._transaction.replace(doc_id, fields)

    async def delete(self, table_or_id: str, doc_id: str | None = None) -> None:
        """Delete a document. ``delete(id)`` or ``delete(table, id)``."""
        self._transaction.delete(self._explicit(table_or_id, doc_id, "db.delete"))

    def _id_and_value(self, first: str, second: Any, third: Any, method: str) -> tuple[str, Any]:
        if third is None:
            return first, second
        return self._explicit(first, second, method), third


class Auth:
    """``ctx.auth``: who is calling."""

    def __init__(self, identity: Identity | None) -> None:
        self._identity = identity

    async def get_user_identity(self) -> Identity | None:
        """The caller's identity (``tokenIdentifier``, ``subject``, ``issuer``, claims) or None."""
        return dict(self._identity) if self._identity is not None else None


class ActionAuth(Auth):
    """``ctx.auth`` of an action: also the deployment's own token issuer, for sign-in libraries.

    Only actions get it: signing belongs next to the password checks and network calls that
    precede it, never in a query (cached, re-run) or a mutation (holds the writer).
    """

    def __init__(self, execution: Execution) -> None:
        super().__init__(execution.identity)
        self._execution = execution

    @property
    def issuer(self) -> BuiltinIssuer:
        """Signs access tokens for this deployment (``issue_token(subject)``); see ``runtime.tokens.issuer``."""
        return self._execution.executor.auth.issuer


class Meta:
    """``ctx.meta``: facts about the running function."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution

    def get_function_metadata(self) -> dict[str, Any]:
        """``{name, componentPath, type, visibility}``; a default export is named by its module alone (§6.4)."""
        function = self._execution.function
        name = function.path
        if name is not None and name.endswith(":default"):
            name = name[: -len(":default")]
        return {"name": name, "componentPath": "", "type": function.kind, "visibility": function.visibility}

    def get_transaction_metrics(self) -> dict[str, dict[str, float]]:
        """Usage and what is left of each limit of §4.4, as float64 like every Convex number."""
        from runtime import knobs

        transaction = self._execution.transaction
        if transaction is None:
            raise ConvexValueError("getTransactionMetrics() is only available in queries and mutations")
        metrics = transaction.metrics
        pairs = {
            "bytesRead": (metrics.bytes_read, knobs.MAX_BYTES_READ),
            "bytesWritten": (metrics.bytes_written, knobs.MAX_BYTES_WRITTEN),
            "databaseQueries": (transaction.read_set.interval_count(), knobs.MAX_INDEX_RANGES),
            "documentsRead": (metrics.documents_read, knobs.MAX_DOCUMENTS_READ),
            "documentsWritten": (metrics.documents_written, knobs.MAX_DOCUMENTS_WRITTEN),
            "functionsScheduled": (metrics.functions_scheduled, knobs.MAX_FUNCTIONS_SCHEDULED),
            "scheduledFunctionArgsBytes": (metrics.scheduled_args_bytes, knobs.MAX_SCHEDULED_ARGS_SIZE),
        }
        return {name: {"used": float(used), "remaining": float(limit - used)} for name, (used, limit) in pairs.items()}


class QueryCtx:
    """A query's ctx: ``db`` (read-only), ``auth``, ``connection``, ``meta``, ``storage``, ``env``, ``run_query``."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution
        self.db = self._make_db(execution)
        self.auth = Auth(execution.identity)
        self.connection = self._make_connection(execution)
        self.meta = Meta(execution)
        self.storage = self._make_storage(execution)
        self.env = Environment(execution)

    def _make_db(self, execution: Execution) -> DatabaseReader:
        return DatabaseReader(execution)

    def _make_connection(self, execution: Execution) -> ConnectionReader:
        return ConnectionReader(execution.connection)

    def _make_storage(self, execution: Execution) -> StorageReader:
        return StorageReader(execution)

    async def run_query(self, function: Any, args: dict[str, Value] | None = None) -> Value:
        """Run a query inside this transaction (same snapshot, pending writes visible)."""
        return self._execution.executor.run_nested(self._execution, function, args or {}, "query")


class MutationCtx(QueryCtx):
    """The context of a mutation: a writer ``db``, ``scheduler``, ``storage`` deletes and ``run_mutation``."""

    db: DatabaseWriter  # what _make_db returns here, so type checkers see insert/patch/replace/delete
    connection: ConnectionWriter

    def __init__(self, execution: Execution) -> None:
        super().__init__(execution)
        self.scheduler = MutationScheduler(execution)

    def _make_db(self, execution: Execution) -> DatabaseReader:
        return DatabaseWriter(execution)

    def _make_connection(self, execution: Execution) -> ConnectionReader:
        return ConnectionWriter(execution.connection, execution.proofs)

    def _make_storage(self, execution: Execution) -> StorageReader:
        return StorageWriter(execution)

    async def run_mutation(self, function: Any, args: dict[str, Value] | None = None) -> Value:
        """Run a mutation as a sub-transaction: its writes roll back alone if it raises."""
        return self._execution.executor.run_nested(self._execution, function, args or {}, "mutation")


class ActionCtx:
    """The context of an action: no ``db``; every ``run_*``, ``scheduler`` and ``storage`` call is its own transaction."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution
        self.auth = ActionAuth(execution)
        self.connection = ActionConnection(execution.connection)
        self.meta = Meta(execution)
        self.scheduler = ActionScheduler(execution)
        self.storage = ActionStorage(execution)
        self.env = Environment(execution)

    async def run_query(self, function: Any, args: dict[str, Value] | None = None) -> Value:
        return await self._execution.executor.run_from_action(self._execution, function, args or {}, "query")

    async def run_mutation(self, function: Any, args: dict[str, Value] | None = None) -> Value:
        return await self._execution.executor.run_from_action(self._execution, function, args or {}, "mutation")

    async def run_action(self, function: Any, args: dict[str, Value] | None = None) -> Value:
        return await self._execution.executor.run_from_action(self._execution, function, args or {}, "action")

    async def vector_search(self, table: str, index: str, options: dict[str, Any]) -> list[dict[str, Any]]:
        """Nearest documents by cosine similarity: ``[{"_id", "_score"}]``, best first."""
        return run_vector_search(self._execution.executor.database, table, index, options)
