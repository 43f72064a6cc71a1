"""Environment variables: stored per deployment, managed with list/get/set/remove_env, visible to
every kind of function as ``ctx.env`` next to the built-in CONVEX_CLOUD_URL / CONVEX_SITE_URL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime import knobs
from runtime.database.read_set import Commit
from runtime.functions.environment import get_env, list_env, remove_env, set_env
from runtime.functions.executor import Executor
from runtime.values.errors import ConvexValueError

FUNCTIONS = """
from runtime import action, mutation, query, v

@query(args={"name": v.string()})
async def in_query(ctx, args):
    return ctx.env.get(args["name"])

@mutation(args={"name": v.string()})
async def in_mutation(ctx, args):
    return ctx.env.get(args["name"])

@action(args={"name": v.string()})
async def in_action(ctx, args):
    return ctx.env.get(args["name"])

@query(args={})
async def everything(ctx, args):
    return dict(ctx.env)
"""


@pytest.fixture
def app(make_app: Callable[[dict[str, str]], Path]) -> Path:
    return make_app({"functions/env.py": FUNCTIONS})


@pytest.fixture
def executor(open_executor: Callable[..., Executor], app: Path) -> Executor:
    return open_executor(app)


async def seen_by_functions(executor: Executor, name: str) -> list[str | None]:
    return [await executor.call(f"env:in_{kind}", {"name": name}) for kind in ("query", "mutation", "action")]


async def test_every_kind_of_function_reads_variables(executor: Executor) -> None:
    assert await seen_by_functions(executor, "API_KEY") == [None, None, None]
    await set_env(executor.database, "API_KEY", "s3cret")
    assert await seen_by_functions(executor, "API_KEY") == ["s3cret"] * 3
    await set_env(executor.database, "API_KEY", "rotated")
    assert await seen_by_functions(executor, "API_KEY") == ["rotated"] * 3
    assert await get_env(executor.database, "API_KEY") == "rotated"
    assert await remove_env(executor.database, "API_KEY") is True
    assert await remove_env(executor.database, "API_KEY") is False
    assert await seen_by_functions(executor, "API_KEY") == [None, None, None]


async def test_the_deployment_urls_are_built_in(executor: Executor) -> None:
    await set_env(executor.database, "OTHER", "1")
    executor.cloud_url, executor.site_url = "http://127.0.0.1:4000", "http://127.0.0.1:4001"
    assert await executor.call("env:everything") == {
        "CONVEX_CLOUD_URL": "http://127.0.0.1:4000",
        "CONVEX_SITE_URL": "http://127.0.0.1:4001",
        "OTHER": "1",
    }
    assert await list_env(executor.database) == {"OTHER": "1"}
    with pytest.raises(ConvexValueError, match="built-in"):
        await set_env(executor.database, "CONVEX_SITE_URL", "x")


async def test_variables_survive_a_restart(open_executor: Callable[..., Executor], app: Path, tmp_path: Path) -> None:
    first = open_executor(app, tmp_path / "data")
    await set_env(first.database, "KEPT", "yes")
    await first.close()
    second = open_executor(app, tmp_path / "data")
    assert await second.call("env:in_query", {"name": "KEPT"}) == "yes"


@pytest.mark.parametrize("name", ["1ABC", "_X", "WITH-DASH", "", "A" * 41, "ÄPFEL"])
async def test_invalid_names_are_refused(executor: Executor, name: str) -> None:
    with pytest.raises(ConvexValueError, match="Invalid environment variable name"):
        await set_env(executor.database, name, "v")
    assert await list_env(executor.database) == {}


async def test_names_and_values_up_to_the_limits_are_accepted(executor: Executor) -> None:
    name, value = "A" * 40, "é" * (8192 // 2)
    await set_env(executor.database, name, value)
    assert await get_env(executor.database, name) == value
    with pytest.raises(ConvexValueError, match="too large"):
        await set_env(executor.database, "BIG", value + "x")
    with pytest.raises(ConvexValueError, match="must be a string"):
        await set_env(executor.database, "NUMBER", 5)  # type: ignore[arg-type]


async def test_the_number_of_variables_is_limited(executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "MAX_ENV_VARS", 2)
    await set_env(executor.database, "ONE", "1")
    await set_env(executor.database, "TWO", "2")
    with pytest.raises(ConvexValueError, match=r"Too many environment variables \(limit: 2\)"):
        await set_env(executor.database, "THREE", "3")
    await set_env(executor.database, "TWO", "changed")  # changing one is not adding one
    assert await list_env(executor.database) == {"ONE": "1", "TWO": "changed"}


async def test_a_query_that_read_a_variable_is_invalidated_when_it_changes(executor: Executor) -> None:
    result = await executor.run("env:in_query", {"name": "FLAG"})
    assert result.read_set is not None
    commits: list[Commit] = []
    executor.database.add_commit_listener(commits.extend)
    await set_env(executor.database, "FLAG", "on")
    assert any(commit.touches(result.read_set) for commit in commits)
