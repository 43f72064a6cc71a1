"""Actions (convex-semantics §6.4, §6.5): every ctx.run_* call is its own committed transaction,
errors (ConvexError data included) propagate and can be caught, real awaits work, a time limit
applies, and internal functions are reachable from functions only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.values.errors import ConvexError

APP = Path(__file__).parent / "apps" / "actions"


@pytest.fixture
def executor(open_executor: Callable[..., Executor]) -> Executor:
    return open_executor(APP)


async def test_a_mutation_run_by_an_action_stays_committed_when_the_action_fails(executor: Executor) -> None:
    result = await executor.run("steps:add_then_throw", {"label": "kept"})
    assert str(result.error) == "the action failed afterwards"
    assert await executor.call("steps:labels") == ["kept"]


async def test_each_run_mutation_is_committed_before_it_returns(executor: Executor) -> None:
    assert await executor.call("steps:add_and_count") == [1, 2]


async def test_convex_error_data_reaches_the_action_and_can_be_caught(executor: Executor) -> None:
    assert await executor.call("steps:catch_convex_error") == {"caught": {"code": "E42", "detail": [1, 2.5]}}
    assert await executor.call("steps:labels") == []  # the failed mutation's write was rolled back


async def test_an_uncaught_convex_error_reaches_the_caller_with_its_data(executor: Executor) -> None:
    result = await executor.run("steps:rethrow_convex_error")
    assert isinstance(result.error, ConvexError)
    assert result.error.data == {"code": "E42", "detail": [1, 2.5]}


async def test_a_developer_error_from_a_nested_call_can_be_caught(executor: Executor) -> None:
    assert await executor.call("steps:catch_plain_error") == "plain failure"


async def test_actions_really_await(executor: Executor) -> None:
    assert await executor.call("steps:sleep", {"ms": 5.0}) == "slept"
    assert await executor.call("steps:concurrent_adds", {"count": 5.0}) == 5
    assert sorted(await executor.call("steps:labels")) == [f"c{n}" for n in range(5)]


async def test_an_action_past_its_time_limit_fails(executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "ACTION_TIME_LIMIT_S", 0.05)
    result = await executor.run("steps:sleep", {"ms": 60_000.0})
    assert str(result.error) == "Function execution timed out (maximum duration: 50ms)"


async def test_internal_functions_are_for_functions_and_admins_only(executor: Executor) -> None:
    refused = await executor.run("steps:hidden", {"value": "x"})
    assert str(refused.error) == "Could not find public function for 'steps:hidden'."
    assert (await executor.run("steps:secret_count")).error is not None
    assert await executor.call("steps:nested_action") == {"hidden": "from inside", "count": 0}
    assert await executor.call("steps:hidden", {"value": "admin"}, admin=True) == {"hidden": "admin", "count": 0}


async def test_run_query_refuses_a_mutation(executor: Executor) -> None:
    result = await executor.run("steps:wrong_kind")
    assert str(result.error) == "Cannot call a mutation function with run_query"


async def test_actions_have_no_database(executor: Executor) -> None:
    assert await executor.call("steps:has_db") is False
