"""One run of one function (``Execution``), and what the ``ctx`` capabilities built on it use of the executor.

The executor runs functions through the ``ctx`` objects (``runtime.functions.context``) and their
capabilities (queries, the scheduler, storage, environment variables), which in turn reach back to it:
``ExecutionHost`` names exactly that, so they depend on this module and ``runtime.functions.executor``
satisfies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from runtime.database.database import Database
from runtime.database.transaction import Transaction
from runtime.functions.connection import NO_CONNECTION, Connection, ProofRecorder
from runtime.functions.definitions import FunctionDefinition, Kind
from runtime.tokens.deployment import DeploymentAuth
from runtime.tokens.identity import Identity
from runtime.values.values import Value


class LoadedFunctions(Protocol):
    """What scheduling uses of the loaded app (``runtime.functions.app_loader.App``): its modules and functions."""

    @property
    def modules(self) -> Mapping[str, ModuleType]: ...

    @property
    def functions(self) -> Mapping[str, FunctionDefinition]: ...


class StoredFiles(Protocol):
    """What ``ctx.storage`` uses of the deployment's ``runtime.functions.file_storage.FileStorage``."""

    def row(self, storage_id: object) -> dict[str, Value] | None: ...

    def upload_url(self, base_url: str) -> str: ...

    async def store(self, data: bytes, content_type: str | None = None) -> str: ...

    async def read(self, storage_id: object) -> bytes | None: ...


class ExecutionHost(Protocol):
    """What a function's ``ctx`` uses of the ``runtime.functions.executor.Executor`` running it."""

    @property
    def database(self) -> Database: ...

    @property
    def app(self) -> LoadedFunctions: ...

    @property
    def auth(self) -> DeploymentAuth: ...

    @property
    def file_storage(self) -> StoredFiles: ...

    @property
    def cloud_url(self) -> str: ...

    @property
    def site_url(self) -> str: ...

    def run_nested(self, parent: Execution, reference: Any, args: Any, kind: Kind) -> Value: ...

    async def run_from_action(self, parent: Execution, reference: Any, args: Any, kind: Kind) -> Value: ...


@dataclass(eq=False)
class Execution:
    """One run of one function: its transaction, caller identity and connection, pagination journal and depth."""

    executor: ExecutionHost
    function: FunctionDefinition
    identity: Identity | None
    transaction: Transaction | None = None
    depth: int = 0
    paginated: bool = False
    journal_in: str | None = None
    journal_out: str | None = None
    connection: Connection = NO_CONNECTION
    # What a mutation proved about its connection (runtime.functions.connection).
    proofs: ProofRecorder = field(default_factory=ProofRecorder)
