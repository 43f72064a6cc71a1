"""A failed mutation leaves no trace; a failed nested mutation undoes only its own writes (§4.2, §4.3).

"No trace" is checked at the byte level: every row of every SQLite table, read through a separate
connection, and the in-memory catalog are identical before and after the failed call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from runtime.functions.executor import Executor
from tests.store_fixtures import BOTH_STORES

pytestmark = BOTH_STORES

Dumper = Callable[[Executor], dict[str, list[tuple[Any, ...]]]]


def catalog_view(executor: Executor) -> tuple[Any, ...]:
    catalog = executor.database.catalog
    return (
        dict(catalog.table_numbers),
        dict(catalog.table_names),
        {key: (info.index_id, info.fields) for key, info in catalog.indexes.items()},
        {number: [info.name for info in infos] for number, infos in catalog.stored_indexes.items()},
    )


async def seed(executor: Executor) -> list[str]:
    """Two items and a note, so that failed mutations have something to patch and delete."""
    return await executor.call(
        "db:apply",
        {
            "steps": [
                {"op": "insert", "table": "items", "value": {"a": 1, "b": "x"}},
                {"op": "insert", "table": "items", "value": {"a": 2}},
                {"op": "insert", "table": "notes", "value": {"text": "hello"}},
            ]
        },
    )


async def test_a_mutation_that_raises_after_writing_everywhere_leaves_the_database_unchanged(
    open_executor: Callable[..., Executor], dump: Dumper
) -> None:
    executor = open_executor()
    first, second, note = await seed(executor)
    before, catalog_before, ts_before = dump(executor), catalog_view(executor), executor.database.last_ts
    result = await executor.run(
        "db:apply",
        {
            "steps": [
                {"op": "insert", "table": "items", "value": {"a": 3}},
                {"op": "patch", "id": first, "value": {"a": 10, "new": True}, "remove": ["b"]},
                {"op": "replace", "id": note, "value": {"text": "replaced", "score": 1.5}},
                {"op": "delete", "id": second},
                {"op": "insert", "table": "brand_new_table", "value": {"z": 1}},
                {"op": "nested", "steps": [{"op": "insert", "table": "another_new_table", "value": {}}]},
                {"op": "fail", "data": {"code": "boom"}},
            ]
        },
    )
    assert result.error is not None and result.error.data == {"code": "boom"}
    assert dump(executor) == before
    assert catalog_view(executor) == catalog_before
    assert executor.database.last_ts == ts_before
    assert await executor.call("db:select", {"table": "brand_new_table"}) == []
    # The rolled-back table creation left the catalog usable: the table can still be created.
    created = await executor.call("db:apply", {"steps": [{"op": "insert", "table": "brand_new_table", "value": {}}]})
    assert [doc["_id"] for doc in await executor.call("db:select", {"table": "brand_new_table"})] == created


async def test_return_validation_and_python_errors_after_writing_roll_back(
    open_executor: Callable[..., Executor], dump: Dumper
) -> None:
    executor = open_executor()
    await seed(executor)
    before, catalog_before = dump(executor), catalog_view(executor)
    wrong = await executor.run("atomic:write_then_return_wrong_type")
    assert str(wrong.error).startswith("ReturnsValidationError: ")
    crashed = await executor.run("atomic:write_then_raise_python_error")
    assert isinstance(crashed.error, KeyError)
    assert dump(executor) == before
    assert catalog_view(executor) == catalog_before


async def test_a_caught_nested_failure_rolls_back_only_the_nested_writes(
    open_executor: Callable[..., Executor], dump: Dumper
) -> None:
    executor = open_executor()
    first, _, _ = await seed(executor)
    results = await executor.call(
        "db:apply",
        {
            "steps": [
                {"op": "patch", "id": first, "value": {"outer": "before"}},
                {
                    "op": "nested",
                    "catch": True,
                    "steps": [
                        {"op": "patch", "id": first, "value": {"inner": True}},
                        {"op": "insert", "table": "nested_only_table", "value": {"x": 1}},
                        {"op": "insert", "table": "items", "value": {"a": "inner"}},
                        {"op": "fail", "data": "inner failure"},
                    ],
                },
                {"op": "get", "id": first},
                {"op": "nested", "steps": [{"op": "insert", "table": "items", "value": {"a": "kept"}}]},
                {"op": "insert", "table": "items", "value": {"a": "outer"}},
            ]
        },
    )
    assert results[1] == {"caught": "inner failure"}
    assert "inner" not in results[2] and results[2]["outer"] == "before"
    stored = await executor.call("db:get", {"id": first})
    assert stored["outer"] == "before" and "inner" not in stored
    values = [doc.get("a") for doc in await executor.call("db:select", {"table": "items"})]
    assert values == [1, 2, "kept", "outer"]
    assert "nested_only_table" not in executor.database.catalog.table_numbers
    assert await executor.call("db:select", {"table": "nested_only_table"}) == []


async def test_a_nested_mutation_that_succeeds_is_undone_when_its_caller_fails(
    open_executor: Callable[..., Executor], dump: Dumper
) -> None:
    executor = open_executor()
    await seed(executor)
    before = dump(executor)
    result = await executor.run(
        "db:apply",
        {
            "steps": [
                {"op": "nested", "steps": [{"op": "insert", "table": "items", "value": {"a": "nested"}}]},
                {"op": "fail"},
            ]
        },
    )
    assert result.error is not None
    assert dump(executor) == before


async def test_failures_committed_in_the_same_group_as_successes_leave_no_trace(
    open_executor: Callable[..., Executor], dump: Dumper
) -> None:
    executor = open_executor()
    calls = []
    for i in range(40):
        steps: list[dict[str, Any]] = [{"op": "insert", "table": "items", "value": {"a": i}}]
        if i % 3 == 0:
            steps.append({"op": "insert", "table": f"doomed_{i}", "value": {}})
            steps.append({"op": "fail", "data": i})
        calls.append(executor.run("db:apply", {"steps": steps}))
    results = await asyncio.gather(*calls)
    assert [result.ok for result in results] == [i % 3 != 0 for i in range(40)]
    stored = sorted(doc["a"] for doc in await executor.call("db:select", {"table": "items"}))
    assert stored == [i for i in range(40) if i % 3 != 0]
    assert not any(name.startswith("doomed_") for name in executor.database.catalog.table_numbers)
