"""Query semantics seen by a caller: order, terminals, filters and their total order, arithmetic,
read-your-writes and creation times (convex-semantics §1.4, §2.1, §3.7–§3.11, §4.2)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from runtime.functions.executor import Executor
from runtime.values.errors import error_message
from tests.store_fixtures import BOTH_STORES
from tests.strategies import bit_exact_equal

pytestmark = BOTH_STORES


async def insert_items(executor: Executor, *values: dict[str, Any]) -> list[str]:
    steps = [{"op": "insert", "table": "items", "value": value} for value in values]
    return await executor.call("db:apply", {"steps": steps})


async def select(executor: Executor, **spec: Any) -> Any:
    return await executor.call("db:select", {"table": "items", **spec})


def field(documents: list[dict[str, Any]], name: str) -> list[Any]:
    return [document.get(name, "<missing>") for document in documents]


# --- order and terminals -----------------------------------------------------------------------


async def test_full_table_scans_return_creation_order_and_desc_reverses_it(core: Executor) -> None:
    ids = await insert_items(core, {"a": 3}, {"a": 1}, {"a": 2})
    assert [doc["_id"] for doc in await select(core)] == ids
    assert [doc["_id"] for doc in await select(core, order="desc")] == ids[::-1]
    assert [doc["_id"] for doc in await select(core, index="by_creation_time", order="asc")] == ids


async def test_index_order_breaks_ties_by_creation_time(core: Executor) -> None:
    ids = await insert_items(core, {"a": 2, "n": 0}, {"a": 1, "n": 1}, {"a": 2, "n": 2}, {"a": 1, "n": 3})
    ascending = await select(core, index="by_a")
    assert field(ascending, "n") == [1, 3, 0, 2]
    descending = await select(core, index="by_a", order="desc")
    assert [doc["_id"] for doc in descending] == [doc["_id"] for doc in ascending][::-1]
    equal = await select(core, index="by_a", range=[{"op": "eq", "field": "a", "value": 2}])
    assert [doc["_id"] for doc in equal] == [ids[0], ids[2]]


async def test_index_order_is_the_total_order_across_types(core: Executor) -> None:
    values: list[Any] = ["s", 1.0, None, True, -5, b"\x01", [1], {"k": 1}, 0.0, -0.0, math.nan, False, 7]
    await insert_items(core, *({"a": value} for value in values))
    await insert_items(core, {"b": "no a"})
    found = [doc.get("a", "missing") for doc in await select(core, index="by_a")]
    expected = ["missing", None, -5, 7, -0.0, 0.0, 1.0, math.nan, False, True, "s", b"\x01", [1], {"k": 1}]
    assert bit_exact_equal(found, expected)


async def test_missing_values_sort_first_and_can_be_selected_with_undefined(core: Executor) -> None:
    await insert_items(core, {"a": None}, {"b": 1}, {"a": 0})
    missing = await select(core, index="by_a", range=[{"op": "eq", "field": "a"}])
    assert field(missing, "b") == [1]
    present = await select(core, index="by_a", range=[{"op": "gt", "field": "a"}])
    assert field(present, "a") == [None, 0]


async def test_ranges_tell_a_value_from_longer_ones_that_start_with_a_nul(core: Executor) -> None:
    await insert_items(core, {"a": "x"}, {"a": "x\x00"}, {"a": "x\x00y"}, {"a": b"x"}, {"a": b"x\x00"})
    for op, value, expected in [
        ("eq", "x", ["x"]),
        ("gt", "x", ["x\x00", "x\x00y", b"x", b"x\x00"]),
        ("lte", "x", ["x"]),
        ("eq", "x\x00", ["x\x00"]),
        ("lt", "x\x00y", ["x", "x\x00"]),
        ("eq", b"x", [b"x"]),
        ("gte", b"x\x00", [b"x\x00"]),
    ]:
        rows = await select(core, index="by_a", range=[{"op": op, "field": "a", "value": value}])
        assert field(rows, "a") == expected, (op, value)


async def test_dotted_index_paths_treat_non_objects_as_missing(core: Executor) -> None:
    await insert_items(core, {"n": {"x": 2}}, {"n": 5}, {"n": {"x": 1}}, {"c": 1})
    rows = await select(core, index="by_nx", range=[{"op": "gt", "field": "n.x"}])
    assert [doc["n"]["x"] for doc in rows] == [1, 2]
    missing = await select(core, index="by_nx", range=[{"op": "eq", "field": "n.x"}])
    assert len(missing) == 2


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("gt", 2)], [3, 4]),
        ([("gte", 2)], [2, 3, 4]),
        ([("lt", 2)], [0, 1]),
        ([("lte", 2)], [0, 1, 2]),
        ([("gt", 0), ("lt", 4)], [1, 2, 3]),
        ([("lte", 3), ("gte", 1)], [1, 2, 3]),
        ([("gt", 2), ("lt", 2)], []),
    ],
)
async def test_index_bounds(core: Executor, steps: list[tuple[str, int]], expected: list[int]) -> None:
    await insert_items(core, *({"a": i} for i in (4, 0, 3, 1, 2)))
    spec = [{"op": op, "field": "a", "value": value} for op, value in steps]
    assert field(await select(core, index="by_a", range=spec), "a") == expected
    assert field(await select(core, index="by_a", range=spec, order="desc"), "a") == expected[::-1]


async def test_take_first_and_unique(core: Executor) -> None:
    ids = await insert_items(core, {"a": 1}, {"a": 2}, {"a": 2})
    assert [doc["_id"] for doc in await select(core, terminal="take", n=2)] == ids[:2]
    assert await select(core, terminal="take", n=0) == []
    assert (await select(core, terminal="first", order="desc"))["_id"] == ids[2]
    assert await select(core, terminal="first", index="by_a", range=[{"op": "eq", "field": "a", "value": 9}]) is None
    one = await select(core, terminal="unique", index="by_a", range=[{"op": "eq", "field": "a", "value": 1}])
    assert one["_id"] == ids[0]
    assert await select(core, terminal="unique", index="by_a", range=[{"op": "eq", "field": "a", "value": 3}]) is None
    result = await core.run(
        "db:select",
        {"table": "items", "terminal": "unique", "index": "by_a", "range": [{"op": "eq", "field": "a", "value": 2}]},
    )
    assert error_message(result.error) == (
        f"Uncaught Error: unique() query returned more than one result from table items:\n [{ids[1]}, {ids[2]}, ...]"
    )


async def test_take_applies_after_filters(core: Executor) -> None:
    await insert_items(core, *({"a": i % 2, "b": i} for i in range(6)))
    rows = await select(core, terminal="take", n=2, filters=[{"op": "eq", "field": "a", "value": 1}])
    assert field(rows, "b") == [1, 3]


async def test_async_iteration_pulls_lazily(core: Executor) -> None:
    await insert_items(core, *({"b": i} for i in range(5)))
    assert field(await select(core, terminal="iterate", n=3), "b") == [0, 1, 2]


async def test_tables_that_do_not_exist_read_as_empty(core: Executor) -> None:
    assert await core.call("db:select", {"table": "never_written"}) == []
    assert await core.call("db:select", {"table": "never_written", "terminal": "first"}) is None
    page = await core.call(
        "db:select", {"table": "never_written", "terminal": "paginate", "opts": {"numItems": 5, "cursor": None}}
    )
    assert (page["page"], page["isDone"]) == ([], True)


# --- filters -----------------------------------------------------------------------------------


async def where(executor: Executor, expr: list[Any]) -> list[Any]:
    return field(await executor.call("expr:where", {"expr": expr}), "a")


async def test_filter_equality_keeps_int64_and_float64_apart(core: Executor) -> None:
    await insert_items(core, {"a": 1}, {"a": 1.0}, {"a": "1"}, {"a": True})
    assert bit_exact_equal(await where(core, ["eq", ["field", "a"], ["lit", 1]]), [1])
    assert bit_exact_equal(await where(core, ["eq", ["field", "a"], ["lit", 1.0]]), [1.0])
    assert bit_exact_equal(await where(core, ["neq", ["field", "a"], ["lit", 1]]), [1.0, "1", True])


async def test_filter_comparisons_use_the_total_order_and_never_fail(core: Executor) -> None:
    await insert_items(core, {"a": None}, {"b": "no a"}, {"a": 5}, {"a": 2.5}, {"a": "text"}, {"a": False})
    # Every int64 is below every float64; strings are above numbers and booleans.
    assert bit_exact_equal(await where(core, ["lt", ["field", "a"], ["lit", 0.0]]), [None, "<missing>", 5])
    assert await where(core, ["gt", ["field", "a"], ["lit", True]]) == ["text"]
    # Missing sorts below null: the missing field is less than null, null equals only null.
    assert await where(core, ["lt", ["field", "a"], ["lit", None]]) == ["<missing>"]
    assert await where(core, ["eq", ["field", "a"], ["lit", None]]) == [None]
    assert await where(core, ["eq", ["field", "a"], ["undefined"]]) == ["<missing>"]
    assert await where(core, ["lte", ["field", "a"], ["undefined"]]) == ["<missing>"]


async def test_nan_and_negative_zero_compare_by_total_order(core: Executor) -> None:
    await insert_items(core, {"a": math.nan}, {"a": -0.0}, {"a": 0.0})
    assert bit_exact_equal(await where(core, ["eq", ["field", "a"], ["lit", math.nan]]), [math.nan])
    assert bit_exact_equal(await where(core, ["eq", ["field", "a"], ["lit", 0.0]]), [0.0])
    assert bit_exact_equal(await where(core, ["lt", ["field", "a"], ["lit", 0.0]]), [-0.0])


async def test_boolean_operators(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(5)))
    gt1 = ["gt", ["field", "a"], ["lit", 1]]
    lt4 = ["lt", ["field", "a"], ["lit", 4]]
    assert await where(core, ["and", gt1, lt4]) == [2, 3]
    assert await where(core, ["or", ["not", gt1], ["not", lt4]]) == [0, 1, 4]
    assert await where(core, ["lit", True]) == [0, 1, 2, 3, 4]
    assert await where(core, ["lit", False]) == []


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (["eq", ["add", ["field", "a"], ["lit", 2]], ["lit", 5]], [3]),
        (["eq", ["sub", ["field", "a"], ["lit", 1]], ["lit", 2]], [3]),
        (["eq", ["mul", ["field", "a"], ["lit", 2]], ["lit", 6]], [3]),
        (["eq", ["div", ["field", "a"], ["lit", 2]], ["lit", 1]], [3]),
        (["eq", ["div", ["neg", ["field", "a"]], ["lit", 2]], ["lit", -1]], [3]),
        (["eq", ["mod", ["field", "a"], ["lit", 2]], ["lit", 1]], [3]),
        (["eq", ["neg", ["field", "a"]], ["lit", -3]], [3]),
    ],
)
async def test_int64_arithmetic(core: Executor, expr: list[Any], expected: list[Any]) -> None:
    await insert_items(core, {"a": 3})
    assert await where(core, expr) == expected


async def test_float64_arithmetic_follows_ieee(core: Executor) -> None:
    await insert_items(core, {"a": 1.0}, {"a": -1.0}, {"a": 0.0})
    quotient = ["div", ["field", "a"], ["lit", 0.0]]
    assert await where(core, ["eq", quotient, ["lit", math.inf]]) == [1.0]
    assert await where(core, ["eq", quotient, ["lit", -math.inf]]) == [-1.0]
    assert await where(core, ["eq", quotient, ["lit", math.nan]]) == [0.0]
    assert await where(core, ["eq", ["add", ["field", "a"], ["lit", 0.5]], ["lit", 1.5]]) == [1.0]


def equals_zero(expr: list[Any]) -> list[Any]:
    return ["eq", expr, ["lit", 0]]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (equals_zero(["add", ["field", "a"], ["lit", 1.0]]), "Cannot add 3n (type bigint) and 1 (type number)"),
        (
            equals_zero(["add", ["field", "missing"], ["lit", 1]]),
            "Cannot add undefined (type undefined) and 1n (type bigint)",
        ),
        (equals_zero(["sub", ["lit", "s"], ["field", "a"]]), 'Cannot subtract "s" (type string) from 3n (type bigint)'),
        (equals_zero(["div", ["field", "a"], ["lit", 0]]), "Cannot divide 3n by zero"),
        (equals_zero(["mod", ["field", "a"], ["lit", 0]]), "Cannot divide 3n by zero"),
        (
            equals_zero(["mul", ["field", "a"], ["lit", 2**62]]),
            "Cannot multiply 3n and 4611686018427387904n: the result is out of range for Int64",
        ),
        (equals_zero(["neg", ["lit", -(2**63)]]), "the result is out of range for Int64"),
        (["field", "a"], "Cannot use value 3n (type bigint) as a Boolean"),
        (["and", ["lit", True], ["lit", 1.0]], "Cannot use value 1 (type number) as a Boolean"),
        (["not", ["lit", None]], "Cannot use value null (type null) as a Boolean"),
    ],
)
async def test_filter_type_errors(core: Executor, expr: list[Any], expected: str) -> None:
    await insert_items(core, {"a": 3})
    message = error_message((await core.run("expr:where", {"expr": expr})).error)
    assert message.startswith("Uncaught Error: ") and expected in message


# --- read-your-writes and creation times --------------------------------------------------------


async def test_a_mutation_reads_its_own_pending_writes_in_index_order(core: Executor) -> None:
    ids = await insert_items(core, *({"a": i} for i in range(8)))
    steps: list[dict[str, Any]] = [{"op": "delete", "id": doc_id} for doc_id in ids[:5]]
    steps += [
        {"op": "select", "spec": {"table": "items", "terminal": "first"}},
        {"op": "patch", "id": ids[7], "value": {"a": -1}},
        {"op": "insert", "table": "items", "value": {"a": 5.5}},
        {"op": "select", "spec": {"table": "items", "index": "by_a"}},
        {"op": "nested_query", "spec": {"table": "items", "index": "by_a", "order": "desc", "terminal": "first"}},
        {"op": "get", "id": ids[0]},
    ]
    results = await core.call("db:apply", {"steps": steps})
    assert results[5]["a"] == 5
    assert field(results[8], "a") == [-1, 5, 6, 5.5]
    assert results[9]["a"] == 5.5
    assert results[10] is None


async def test_creation_times_increase_strictly_within_and_across_mutations(core: Executor) -> None:
    first = await core.call("misc:insert_many", {"count": 50})
    second = await core.call("misc:insert_many", {"count": 3})
    times = first + second
    assert all(earlier < later for earlier, later in itertools.pairwise(times))
    assert all(isinstance(time, float) and 0 < time < 2**53 for time in times)


# --- system indexes and unknown indexes (§3.8) -----------------------------------------------------


async def test_by_id_orders_by_id_and_takes_ranges_both_ways(core: Executor) -> None:
    """§3.8: `by_id` has the key [_id]; scans and ranges over it work like any index."""
    ids = sorted(await insert_items(core, {"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}))
    assert [doc["_id"] for doc in await select(core, index="by_id")] == ids
    assert [doc["_id"] for doc in await select(core, index="by_id", order="desc")] == ids[::-1]
    point = await select(core, index="by_id", range=[{"op": "eq", "field": "_id", "value": ids[2]}])
    assert [doc["_id"] for doc in point] == [ids[2]]
    between = [{"op": "gt", "field": "_id", "value": ids[0]}, {"op": "lte", "field": "_id", "value": ids[2]}]
    assert [doc["_id"] for doc in await select(core, index="by_id", range=between)] == ids[1:3]
    assert [doc["_id"] for doc in await select(core, index="by_id", range=between, order="desc")] == ids[2:0:-1]


async def test_by_creation_time_takes_ranges_both_ways(core: Executor) -> None:
    """§3.8: `by_creation_time` has the key [_creationTime, _id]."""
    ids = await insert_items(core, {"a": 1}, {"a": 2}, {"a": 3})
    times = [doc["_creationTime"] for doc in await select(core)]
    after_first = [{"op": "gt", "field": "_creationTime", "value": times[0]}]
    assert [doc["_id"] for doc in await select(core, index="by_creation_time", range=after_first)] == ids[1:]
    up_to_second = [{"op": "lte", "field": "_creationTime", "value": times[1]}]
    found = await select(core, index="by_creation_time", range=up_to_second, order="desc")
    assert [doc["_id"] for doc in found] == ids[1::-1]


async def test_an_index_of_a_table_never_written_must_exist(core: Executor) -> None:
    """§3.8: an unknown index fails even on a table that does not exist yet; system indexes read empty."""
    result = await core.run("db:select", {"table": "never_written", "index": "by_a_b"})
    assert str(result.error) == "Index never_written.by_a_b not found."
    for index in ("by_id", "by_creation_time"):
        assert await core.call("db:select", {"table": "never_written", "index": index}) == []
