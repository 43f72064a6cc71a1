"""Functions as callers see them: validation, results, errors and their data, log lines, nesting,
visibility and actions (convex-semantics §4.3, §6, §8)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runtime.functions.executor import Executor
from runtime.values.errors import ConvexError, ReturnsValidationError, error_data, error_message
from tests.strategies import bit_exact_equal


async def test_arguments_and_results_are_validated(core: Executor) -> None:
    assert await core.call("misc:shout", {"text": "hi"}) == "HI"
    result = await core.run("misc:returns_wrong_type")
    assert isinstance(result.error, ReturnsValidationError)
    assert error_message(result.error).startswith("ReturnsValidationError: Value does not match validator.")
    assert await core.call("misc:returns_nothing") is None


async def test_keyword_only_parameters_are_validated_by_their_type_hints(core: Executor) -> None:
    assert await core.call("misc:keywords", {"name": "ab", "times": 2}) == "abab"
    assert await core.call("misc:keywords", {"name": "ab"}) == "ab"
    result = await core.run("misc:keywords", {"name": "ab", "times": 2.0})
    assert error_message(result.error).startswith("ArgumentValidationError: ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("plain words", "Uncaught ConvexError: plain words"),
        ({"code": "NOT_FOUND", "id": 7}, 'Uncaught ConvexError: {"code":"NOT_FOUND","id":{"$integer":"BwAAAAAAAAA="}}'),
        ([1.5, None, True], "Uncaught ConvexError: [1.5,null,true]"),
        (None, "Uncaught ConvexError: null"),
        (b"\x00\xff", 'Uncaught ConvexError: {"$bytes":"AP8="}'),
    ],
)
async def test_convex_error_data_reaches_the_caller_intact(core: Executor, data: Any, message: str) -> None:
    result = await core.run("misc:raises", {"data": data} if data is not None else {})
    assert isinstance(result.error, ConvexError)
    assert error_message(result.error) == message
    assert error_data(result.error) == (True, data)
    caught = await core.call("misc:catches_nested_error", {"data": data})
    assert bit_exact_equal(caught, {"caught": data})


async def test_convex_error_data_keeps_special_floats(core: Executor) -> None:
    data = {"nan": math.nan, "neg_zero": -0.0, "inf": math.inf}
    result = await core.run("misc:raises", {"data": data})
    assert bit_exact_equal(result.error.data, data)  # type: ignore[union-attr]


async def test_other_exceptions_carry_only_their_message(core: Executor) -> None:
    result = await core.run("misc:raises", {"plain": True})
    assert error_message(result.error) == "Uncaught Error: plain failure"
    assert error_data(result.error) == (False, None)


async def test_print_and_logging_become_log_lines_in_order(core: Executor) -> None:
    result = await core.run("misc:logs")
    assert result.log_lines == [
        "[LOG] hello world",
        "[LOG] no newline",
        "[INFO] info line",
        "[WARN] warn line",
        "[ERROR] error line",
    ]


async def test_log_lines_of_a_failed_mutation_are_kept(core: Executor) -> None:
    result = await core.run("atomic:write_then_raise_python_error")
    assert result.error is not None and result.log_lines == ["[LOG] about to fail"]


async def test_function_paths_accept_the_js_suffix_and_check_the_kind(core: Executor) -> None:
    assert await core.call("misc.js:shout", {"text": "a"}) == "A"
    result = await core.run("misc:shout", {"text": "a"}, kind="mutation")
    assert str(result.error) == "Trying to execute misc.js:shout as Mutation, but it is defined as Query."


async def test_internal_functions_are_for_admins_and_other_functions(core: Executor) -> None:
    result = await core.run("misc:secret")
    assert str(result.error) == "Could not find public function for 'misc:secret'."
    assert await core.call("misc:secret", admin=True) == "secret"
    assert await core.call("misc:calls_secret") == "secret"


async def test_nested_calls_are_limited_in_depth(core: Executor) -> None:
    assert await core.call("misc:recurse", {"depth": 8}) == 8
    result = await core.run("misc:recurse", {"depth": 9})
    assert "Cross component call depth limit exceeded" in str(result.error)


async def test_function_metadata(core: Executor) -> None:
    assert await core.call("misc:metadata") == {
        "name": "misc:metadata",
        "componentPath": "",
        "type": "query",
        "visibility": "public",
    }


async def test_mutation_results_carry_increasing_commit_timestamps(core: Executor) -> None:
    first = await core.run("misc:record", {"text": "one"}, admin=True)
    second = await core.run("misc:record", {"text": "two"}, admin=True)
    assert first.ts is not None and second.ts is not None and second.ts > first.ts
    query = await core.run("db:select", {"table": "notes"})
    assert query.ts == second.ts and len(query.value) == 2


async def test_an_action_is_not_a_transaction(core: Executor) -> None:
    result = await core.run("misc:records_then_fails", {"text": "kept"})
    assert isinstance(result.error, ConvexError) and result.error.data == {"after": "kept"}
    assert [note["text"] for note in await core.call("db:select", {"table": "notes"})] == ["kept"]
    assert await core.call("misc:counts_notes") == 1


async def test_undefined_argument_fields_are_dropped(core: Executor) -> None:
    from runtime.values.values import UNDEFINED

    assert await core.call("misc:shout", {"text": "x", "ignored": UNDEFINED}) == "X"


async def insert_item(executor: Executor) -> None:
    await executor.call("db:apply", {"steps": [{"op": "insert", "table": "items", "value": {"a": 1, "n": {"x": 1}}}]})


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("invalid_value", "object is not a supported Convex type"),
        ("nested_invalid", "starts with a '$', which is reserved"),
        ("big_int", "does not fit into a 64-bit signed integer"),
    ],
)
async def test_documents_changed_in_place_are_checked_like_any_result(core: Executor, how: str, expected: str) -> None:
    await insert_item(core)
    result = await core.run("misc:tampered", {"how": how})
    assert result.error is not None and expected in str(result.error)


async def test_results_drop_undefined_fields_of_documents_read(core: Executor) -> None:
    await insert_item(core)
    [document] = await core.call("misc:tampered", {"how": "undefined_field"})
    assert "a" not in document and document["n"] == {"x": 1}


async def test_documents_count_toward_the_nesting_limit_of_results(core: Executor) -> None:
    await insert_item(core)
    # Each wrapper adds a level to the list of documents (1) holding {"n": {"x": 1}} (2).
    assert (await core.run("misc:tampered", {"how": "too_deep", "depth": 61})).ok
    result = await core.run("misc:tampered", {"how": "too_deep", "depth": 62})
    assert "Value is too nested (nested 65 levels deep > maximum nesting 64)" in str(result.error)


async def test_a_default_export_is_named_by_its_module_alone(core: Executor) -> None:
    """§6.4: `name` is the UDF path without `.js`, or just the module for a default export."""
    assert await core.call("metadefault") == {
        "name": "metadefault",
        "componentPath": "",
        "type": "query",
        "visibility": "public",
    }


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("bad-module:list", "Path component bad-module can only contain alphanumeric characters, underscores, or periods."),
        ("dir/.../x:list", "Path component ... must have at least one alphanumeric character."),
        ("misc:not-a-name", "Identifier not-a-name has invalid character '-': Identifiers can only contain alphanumeric characters or underscores"),
    ],
)
async def test_invalid_function_paths_say_why(core: Executor, path: str, problem: str) -> None:
    """The backend's path rules (module components, function identifier), naming the module without `.js`."""
    result = await core.run(path)
    assert str(result.error) == f"{path} is not a valid path to a Convex function. {problem}"
