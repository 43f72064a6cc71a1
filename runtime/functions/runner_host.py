"""What the background runners (``runtime.functions.job_runner``, ``runtime.functions.cron_runner``) use of the executor.

The executor starts and owns both runners; they call back into it to run the functions they are due
to run. ``RunnerHost`` names exactly those calls, so the runners depend on this module and
``runtime.functions.executor.Executor`` satisfies it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from runtime.database.database import Database, MutationResult
from runtime.database.transaction import Transaction
from runtime.functions.app_loader import App
from runtime.functions.definitions import FunctionDefinition
from runtime.store.receipts import Receipt
from runtime.values.values import Value

T = TypeVar("T")


class RunOutcome(Protocol):
    """What a runner reads of a finished run (``runtime.functions.executor.FunctionResult``)."""

    @property
    def value(self) -> Value: ...

    @property
    def error(self) -> Exception | None: ...

    @property
    def log_lines(self) -> list[str]: ...


class RunnerHost(Protocol):
    """The executor as the job and cron runners call it."""

    @property
    def app(self) -> App: ...

    @property
    def database(self) -> Database: ...

    def run_in_transaction(
        self, function: FunctionDefinition, args: Any, transaction: Transaction, budget: float | None = None
    ) -> Value: ...

    async def mutate_within_budget(
        self,
        attempt: Callable[[Transaction, float | None], T],
        receipt: Receipt | None = None,
        *,
        function: FunctionDefinition | None = None,
    ) -> MutationResult[T]: ...

    async def run_function(self, function: FunctionDefinition, args: Any) -> RunOutcome: ...
