"""Bad input is refused with Convex's error and writes nothing (convex-semantics §1.6, §2–§3, §6.2).

Each case runs through ``Executor.run`` against a seeded database; the test checks the error a
caller would see and that every SQLite table is exactly as it was before the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.values.errors import ArgumentValidationError, InvalidCursorError, error_message
from runtime.values.ids import new_id
from runtime.values.values import value_size

Dumper = Callable[[Executor], dict[str, list[tuple[Any, ...]]]]


@pytest.fixture
async def seeded(core: Executor) -> tuple[Executor, dict[str, str]]:
    """The core app with an account, an item and a note."""
    account = await core.call("bank:open_account", {"name": "alice", "balance": 5})
    item, note = await core.call(
        "db:apply",
        {
            "steps": [
                {"op": "insert", "table": "items", "value": {"a": 1, "b": "x"}},
                {"op": "insert", "table": "notes", "value": {"text": "hi"}},
            ]
        },
    )
    return core, {"account": account, "item": item, "note": note}


async def refused(executor: Executor, dump: Dumper, path: str, args: Any) -> str:
    """Run a call that must fail; check nothing was written and return the caller's error message."""
    before = dump(executor)
    result = await executor.run(path, args)
    assert result.error is not None, f"{path} {args!r} unexpectedly returned {result.value!r}"
    assert dump(executor) == before
    return error_message(result.error)


def insert(table: str, value: Any) -> dict[str, Any]:
    return {"steps": [{"op": "insert", "table": table, "value": value}]}


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"name": 1, "count": 1},
            "ArgumentValidationError: Value does not match validator.\nPath: .name\nValue: 1n\nValidator: v.string()",
        ),
        ({"name": "a", "count": 1.0}, "Path: .count\nValue: 1\nValidator: v.int64()"),
        ({"name": "a"}, "ArgumentValidationError: Object is missing the required field `count`."),
        ({"name": "a", "count": 1, "extra": 2}, "Object contains extra field `extra` that is not in the validator."),
        (
            {"name": "a", "count": 1, "account": "not-an-id"},
            'Path: .account\nValue: "not-an-id"\nValidator: v.id("accounts")',
        ),
    ],
)
async def test_arguments_that_do_not_match_the_validator_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, args: dict[str, Any], expected: str
) -> None:
    executor, _ = seeded
    assert expected in await refused(executor, dump, "bad:typed", args)


async def test_an_id_of_another_table_is_refused_by_v_id(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, ids = seeded
    message = await refused(executor, dump, "bad:typed", {"name": "a", "count": 1, "account": ids["item"]})
    assert (
        f'Found ID "{ids["item"]}" from table `items`, which does not match the table name in validator '
        '`v.id("accounts")`.' in message
    )


@pytest.mark.parametrize("args", [[1], "text", 5.0])
async def test_arguments_must_be_an_object(seeded: tuple[Executor, dict[str, str]], dump: Dumper, args: Any) -> None:
    executor, _ = seeded
    message = await refused(executor, dump, "bad:typed", args)
    assert message.startswith("ArgumentValidationError: Expected to receive an object as the function's argument. Instead received: ")


async def test_arguments_that_are_not_convex_values_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, _ = seeded
    assert "not a supported Convex type" in await refused(executor, dump, "db:apply", {"steps": [], "when": object()})
    assert "does not fit into a 64-bit signed integer" in await refused(
        executor, dump, "db:apply", {"steps": [], "n": 2**63}
    )


async def test_a_valid_call_of_the_same_function_writes(seeded: tuple[Executor, dict[str, str]]) -> None:
    executor, _ = seeded
    assert (await executor.run("bad:typed", {"name": "fine", "count": 1})).ok


# --- documents ---------------------------------------------------------------------------------


def padded(target_size: int) -> dict[str, Any]:
    """User fields whose whole document (32-char id and creation time included) is ``target_size`` bytes."""
    system = value_size({"_id": "x" * 32, "_creationTime": 1.0}) - 2
    overhead = value_size({"s": ""})
    return {"s": "x" * (target_size - system - overhead)}


async def test_documents_up_to_one_mebibyte_fit_and_larger_ones_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, ids = seeded
    largest = padded(knobs.MAX_DOCUMENT_SIZE)
    [doc_id] = await executor.call("db:apply", insert("items", largest))
    assert value_size(await executor.call("db:get", {"id": doc_id})) == knobs.MAX_DOCUMENT_SIZE
    too_large = padded(knobs.MAX_DOCUMENT_SIZE + 1)
    message = await refused(executor, dump, "db:apply", insert("items", too_large))
    assert message.startswith("Uncaught Error: Value is too large (1048577 bytes > maximum size 1048576 bytes)")
    patch = {"steps": [{"op": "patch", "id": ids["item"], "value": too_large}]}
    assert "Value is too large" in await refused(executor, dump, "db:apply", patch)


def nested_list(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


async def test_documents_nested_deeper_than_sixteen_levels_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, _ = seeded
    # The document object is the first level.
    assert (await executor.run("db:apply", insert("items", {"deep": nested_list(15)}))).ok
    message = await refused(executor, dump, "db:apply", insert("items", {"deep": nested_list(16)}))
    assert "Document is too nested (nested 17 levels deep > maximum nesting 16)" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"_secret": 1},
            "Field '_secret' starts with an underscore, which is only allowed for system fields like '_id'",
        ),
        ({"_id": "abc"}, "doesn't match '_id' field \"abc\""),
        ({"_creationTime": 1.0}, "doesn't match '_creationTime' field 1"),
        ({"$money": 1}, "starts with a '$', which is reserved"),
        ({"bad\nname": 1}, "field names can only contain non-control ASCII characters"),
        ({"list": [None] * 8193}, "Array length is too long (8193 > maximum length 8192)"),
        ([1], "Invalid argument `value` for `db.insert`: Value must be an Object"),
    ],
)
async def test_malformed_documents_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, value: Any, expected: str
) -> None:
    executor, _ = seeded
    assert expected in await refused(executor, dump, "db:apply", insert("items", value))


async def test_schema_violations_are_refused(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, ids = seeded
    message = await refused(executor, dump, "db:apply", insert("notes", {"text": 1}))
    assert message.startswith(
        'Uncaught Error: Failed to insert or update a document in table "notes" because it does not match the schema'
    )
    patch = {"steps": [{"op": "patch", "id": ids["note"], "value": {"unknown": True}}]}
    assert "extra field `unknown`" in await refused(executor, dump, "db:apply", patch)
    remove_required = {"steps": [{"op": "patch", "id": ids["note"], "remove": ["text"]}]}
    assert "missing the required field `text`" in await refused(executor, dump, "db:apply", remove_required)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"op": "patch", "value": {"_creationTime": 1.0}}, "doesn't match '_creationTime' field"),
        ({"op": "patch", "value": {"_id": "other"}}, "doesn't match '_id' field"),
        ({"op": "patch", "value": {"_other": 1}}, "Field '_other' starts with an underscore"),
        ({"op": "patch", "value": 5}, "Invalid argument `value` for `db.patch`: Value must be an Object"),
        ({"op": "replace", "value": [1]}, "Invalid argument `value` for `db.replace`: Value must be an Object"),
    ],
)
async def test_bad_updates_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, step: dict[str, Any], expected: str
) -> None:
    executor, ids = seeded
    assert expected in await refused(executor, dump, "db:apply", {"steps": [{**step, "id": ids["item"]}]})


async def test_a_table_name_that_is_not_an_identifier_is_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, _ = seeded
    assert 'invalid table name "bad name"' in await refused(executor, dump, "db:apply", insert("bad name", {}))
    assert "starts with" not in await refused(executor, dump, "db:apply", insert("", {}))


# --- ids -----------------------------------------------------------------------------------------


async def test_bad_ids(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, ids = seeded
    assert "Unable to decode ID" in await refused(executor, dump, "db:get", {"id": "nonsense"})
    corrupted = ids["item"][:-1] + ("1" if ids["item"][-1] != "1" else "2")  # the checksum no longer matches
    assert "Unable to decode ID" in await refused(executor, dump, "db:get", {"id": corrupted})
    assert "Invalid argument `id` for `db.get`, expected string" in await refused(executor, dump, "db:get", {"id": 5})
    wrong_table = await refused(executor, dump, "db:get", {"table": "notes", "id": ids["item"]})
    assert 'Invalid argument `id` for `db.get`: expected to be an Id<"notes">, got Id<"items"> instead.' in wrong_table
    # A well-formed id of a table that does not exist reads as null, but cannot be updated.
    ghost = new_id(20_000)
    assert await executor.call("db:get", {"id": ghost}) is None
    for op in ("patch", "replace", "delete"):
        step = {"op": op, "id": ghost, "value": {}}
        assert f'Table for ID "{ghost}" not found' in await refused(executor, dump, "db:apply", {"steps": [step]})


async def test_updates_of_missing_documents_are_refused(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, ids = seeded
    steps = [{"op": "delete", "id": ids["item"]}, {"op": "patch", "id": ids["item"], "value": {"a": 2}}]
    assert f"Update on nonexistent document ID {ids['item']}" in await refused(
        executor, dump, "db:apply", {"steps": steps}
    )
    steps = [{"op": "delete", "id": ids["item"]}, {"op": "replace", "id": ids["item"], "value": {}}]
    assert f"Replace on nonexistent document ID {ids['item']}" in await refused(
        executor, dump, "db:apply", {"steps": steps}
    )


# --- system tables and read-only contexts ---------------------------------------------------------


async def test_system_tables_are_read_only_and_only_reachable_through_db_system(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, _ = seeded
    assert "System tables (prefixed with `_`) are read-only." in await refused(
        executor, dump, "db:apply", insert("_storage", {})
    )
    system_id = new_id(SYSTEM_TABLE_NUMBERS["_storage"])
    for op in ("patch", "replace", "delete"):
        step = {"op": op, "id": system_id, "value": {}}
        assert "System tables (prefixed with `_`) are read-only." in await refused(
            executor, dump, "db:apply", {"steps": [step]}
        )
    assert "System tables can only be accessed with db.system." in await refused(
        executor, dump, "db:get", {"id": system_id}
    )
    assert "System tables can only be accessed from db.system.query()." in await refused(
        executor, dump, "bad:system_table_from_db", {}
    )
    assert "User tables can only be accessed from db.query()." in await refused(
        executor, dump, "bad:user_table_from_system", {}
    )


async def test_queries_cannot_write(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, _ = seeded
    assert "ctx.db.insert is not available in a query" in await refused(executor, dump, "bad:query_inserts", {})
    assert "run_mutation" in await refused(executor, dump, "bad:query_runs_mutation", {})
    assert "Cannot call a query function with run_mutation" in await refused(
        executor, dump, "bad:runs_query_as_mutation", {}
    )


# --- index ranges (convex-semantics §3.8.1) -------------------------------------------------------


def ranged(index: str, *steps: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "table": "items",
        "index": index,
        "range": [{"op": op, "field": field, "value": value} for op, field, value in steps],
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            ranged("by_a", ("eq", "b", 1)),
            (
                'The index range included a comparison with "b", but items.by_a with fields ["a", "_creationTime"] '
                "doesn't index this field."
            ),
        ),
        (
            ranged("by_a_b", ("eq", "b", 1)),
            (
                "Tried to query index items.by_a_b but the query didn't use the index fields in order.\n"
                'Index fields: ["a", "b", "_creationTime"]\nQuery fields: ["b"]\nFirst incorrect field: "b"\n'
                "For more information see https://docs.convex.dev/using/indexes."
            ),
        ),
        (ranged("by_a_b", ("eq", "a", 1), ("gt", "_creationTime", 1.0)), "didn't use the index fields in order"),
        (
            ranged("by_a", ("eq", "a", 1), ("eq", "a", 2)),
            'Already defined equality bound in index range. Can\'t add "a" == 1.',
        ),
        (
            ranged("by_a", ("gt", "a", 1), ("gte", "a", 2)),
            'Already defined lower bound in index range. Can\'t add "a" >= 2.',
        ),
        (
            ranged("by_a", ("lt", "a", 1), ("lte", "a", 2)),
            'Already defined upper bound in index range. Can\'t add "a" <= 2.',
        ),
        (
            ranged("by_a", ("gt", "a", 1), ("eq", "a", 2.0)),
            'Already defined inequality bound in index range. Can\'t add "a" == 2.0.',
        ),
        (
            ranged("by_a", ("eq", "a", 1.5), ("lt", "a", 2)),
            'Already defined inequality bound in index range. Can\'t add "a" == 1.5.',
        ),
        (
            ranged("by_a_b", ("gt", "a", 1), ("lt", "b", 2)),
            (
                "Upper and lower bounds in `range` can only be applied to a single index field. This query against "
                'index items.by_a_b attempted to set a range bound on both "a" and "b".'
            ),
        ),
        ({"table": "items", "index": "by_missing"}, "Index items.by_missing not found."),
    ],
)
async def test_bad_index_ranges_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, spec: dict[str, Any], expected: str
) -> None:
    executor, _ = seeded
    message = await refused(executor, dump, "db:select", spec)
    assert message.startswith("Uncaught Error: ")
    assert expected in message


async def test_an_index_range_builder_cannot_be_reused(seeded: tuple[Executor, dict[str, str]], dump: Dumper) -> None:
    executor, _ = seeded
    assert "IndexRangeBuilder has already been used!" in await refused(executor, dump, "bad:reuse_range_builder", {})


# --- query objects and pagination options --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("bad:two_paginates", "This query or mutation function ran multiple paginated queries."),
        ("bad:sleeps", "Can't use asynchronous I/O or timers"),
        ("bad:reuses_query", "This query is closed and can't emit any more values."),
        ("bad:iterates_twice", "Iteration can only begin on a query once."),
        ("bad:reuses_taken_query", "This query has been chained with another operator and can't be reused."),
        ("bad:chains_twice", "A query can only be chained once and can't be chained after iteration begins."),
        ("bad:returns_query", "Return value is a Query. Results must be retrieved with `.collect()`"),
    ],
)
async def test_misused_queries_fail(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, path: str, expected: str
) -> None:
    executor, _ = seeded
    assert expected in await refused(executor, dump, path, {})


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"numItems": 0, "cursor": None}, "Must request at least 1 document while paginating"),
        ({"numItems": 32_001, "cursor": None}, "Requested too many items: 32001"),
        ({"numItems": "ten", "cursor": None}, "`options.numItems` must be a positive number."),
        ({"cursor": None}, "`options.numItems` must be a positive number."),
        (
            {"numItems": 1, "cursor": None, "maximumRowsRead": 0},
            "maximumRowsRead and maximumBytesRead must be greater than 0",
        ),
        (
            {"numItems": 1, "cursor": None, "maximumBytesRead": 0},
            "maximumRowsRead and maximumBytesRead must be greater than 0",
        ),
        (
            {"numItems": 1, "cursor": None, "maximumRowsRead": "many"},
            "maximumRowsRead and maximumBytesRead must be greater than 0",
        ),
        ({"numItems": 1, "cursor": "not a cursor"}, "InvalidCursor"),
        ({"numItems": 1, "cursor": 7}, "InvalidCursor"),
    ],
)
async def test_bad_pagination_options_are_refused(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper, options: dict[str, Any], expected: str
) -> None:
    executor, _ = seeded
    spec = {"table": "items", "terminal": "paginate", "opts": options}
    assert expected in await refused(executor, dump, "db:select", spec)


@pytest.mark.parametrize("n", [-1, 1.5, "2", True])
async def test_take_needs_a_non_negative_integer(seeded: tuple[Executor, dict[str, str]], dump: Dumper, n: Any) -> None:
    executor, _ = seeded
    spec = {"table": "items", "terminal": "take", "n": n}
    assert "Arg 1 `n` to `take` must be a non-negative integer" in await refused(executor, dump, "db:select", spec)


async def test_a_cursor_error_carries_its_pagination_data(seeded: tuple[Executor, dict[str, str]]) -> None:
    executor, _ = seeded
    result = await executor.run(
        "db:select", {"table": "items", "terminal": "paginate", "opts": {"numItems": 1, "cursor": "x"}}
    )
    assert isinstance(result.error, InvalidCursorError)
    assert result.error.data == {"isConvexSystemError": True, "paginationError": "InvalidCursor"}


async def test_unknown_functions_and_internal_ones_are_not_found(
    seeded: tuple[Executor, dict[str, str]], dump: Dumper
) -> None:
    executor, _ = seeded
    assert await refused(executor, dump, "bad:nope", {}) == "Could not find public function for 'bad:nope'."
    assert "Could not find public function for 'db:apply_internal'." in await refused(
        executor, dump, "db:apply_internal", {"steps": []}
    )
    result = await executor.run("db:apply", {"steps": []}, kind="query")
    assert not isinstance(result.error, ArgumentValidationError)
    assert str(result.error) == "Trying to execute db.js:apply as Query, but it is defined as Mutation."
