"""The value model: wire JSON, total order, sizes and limits (convex-semantics §1, protocol §8)."""

from __future__ import annotations

import copy
import datetime
import decimal
import functools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import knobs
from runtime.values.errors import ConvexValueError
from runtime.values.values import (
    INT64_MAX,
    INT64_MIN,
    UNDEFINED,
    check_field_name,
    check_value,
    compare_values,
    display,
    from_json,
    nesting_depth,
    strip_undefined,
    to_clean_json,
    to_json,
    type_name,
    value_size,
    values_equal,
)
from tests.strategies import (
    ASCENDING_VALUES,
    bit_exact_equal,
    convex_values,
    convex_values_or_undefined,
    float_bits,
    float_from_bits,
    small_values_or_undefined,
)


def nested_lists(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def nested_dicts(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def sign(number: int) -> int:
    return (number > 0) - (number < 0)


# --- wire JSON: round trips ---------------------------------------------------------------------


@given(convex_values)
def test_json_round_trip_is_bit_exact(value: object) -> None:
    assert bit_exact_equal(from_json(to_json(value)), value)


@given(convex_values, st.booleans())
def test_json_survives_serialization_as_strict_json(value: object, ensure_ascii: bool) -> None:
    # allow_nan=False: the encoding must never need JavaScript's non-standard NaN/Infinity tokens.
    text = json.dumps(to_json(value), allow_nan=False, ensure_ascii=ensure_ascii)
    assert bit_exact_equal(from_json(json.loads(text)), value)


def test_round_trip_keeps_nan_payloads_and_signed_zero() -> None:
    for bits in [0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF0_0000_0000_0001, 0xFFF0_DEAD_BEEF_0001]:
        number = float_from_bits(bits)
        assert float_bits(from_json(json.loads(json.dumps(to_json(number))))) == bits
    assert math.copysign(1.0, from_json(to_json(-0.0))) == -1.0


def test_empty_field_name_round_trips() -> None:
    assert from_json(to_json({"": {"": 1}})) == {"": {"": 1}}


# --- wire JSON: known vectors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (-3, {"$integer": "/f////////8="}),
        (0, {"$integer": "AAAAAAAAAAA="}),
        (1, {"$integer": "AQAAAAAAAAA="}),
        (INT64_MAX, {"$integer": "/////////38="}),
        (INT64_MIN, {"$integer": "AAAAAAAAAIA="}),
        (math.inf, {"$float": "AAAAAAAA8H8="}),
        (-math.inf, {"$float": "AAAAAAAA8P8="}),
        (math.nan, {"$float": "AAAAAAAA+H8="}),
        (-0.0, {"$float": "AAAAAAAAAIA="}),
        (b"", {"$bytes": ""}),
        (b"\x00\xff", {"$bytes": "AP8="}),
        (b"hello", {"$bytes": "aGVsbG8="}),
    ],
)
def test_special_encodings_match_the_protocol(value: object, encoded: object) -> None:
    assert to_json(value) == encoded
    assert bit_exact_equal(from_json(encoded), value)


@pytest.mark.parametrize("number", [0.0, 1.0, -1.5, 1e300, 5e-324, 2.0**53])
def test_ordinary_floats_are_plain_json_numbers(number: float) -> None:
    encoded = to_json(number)
    assert type(encoded) is float and float_bits(encoded) == float_bits(number)


def test_scalars_and_containers_encode_structurally() -> None:
    assert to_json(None) is None
    assert to_json(True) is True and to_json(False) is False  # bool is not an int64
    assert to_json("$integer") == "$integer"
    assert to_json([1, "a", [None]]) == [{"$integer": "AQAAAAAAAAA="}, "a", [None]]
    assert to_json({"a": 1.5, "b": UNDEFINED}) == {"a": 1.5}


def test_json_numbers_decode_as_float64() -> None:
    for decoded in (from_json(1), from_json(json.loads("1")), from_json(json.loads("-0"))):
        assert type(decoded) is float
    assert from_json(json.loads('{"a": [2, 3.5]}')) == {"a": [2.0, 3.5]}
    assert type(from_json([7])[0]) is float
    assert from_json(True) is True  # bool must not become 1.0


def test_huge_json_integers_are_rejected_cleanly() -> None:
    with pytest.raises(ConvexValueError):
        from_json(json.loads("1" + "0" * 400))


def test_absurdly_deep_json_fails_with_a_value_error() -> None:
    with pytest.raises(ConvexValueError, match="too nested"):
        from_json(nested_lists(100_000))


def test_to_json_names_undefined() -> None:
    with pytest.raises(ConvexValueError, match=r"^undefined is not a valid Convex value"):
        to_json([UNDEFINED])


def test_strings_are_never_reinterpreted() -> None:
    text = '{"$integer":"AQAAAAAAAAA="}'
    assert from_json(text) == text
    assert from_json(to_json(text)) == text


@pytest.mark.parametrize(
    "data",
    [
        {"$integer": "AQAAAAAAAA=="},  # 7 bytes
        {"$integer": "AQAAAAAAAAAA"},  # 9 bytes
        {"$integer": ""},
        {"$integer": "!!!!!!!!!!!="},
        {"$integer": "AQAAAAAAAAA"},  # missing padding
        {"$integer": "AQAAAAAA AAA="},
        {"$integer": "AQAAAAAAAAB="},  # non-canonical trailing bits
        {"$integer": 1},
        {"$integer": None},
        {"$integer": ["AQAAAAAAAAA="]},
        {"$float": "AAAAAAAA8D8="},  # 1.0 must be a plain number
        {"$float": "AAAAAAAAAAA="},  # +0.0 likewise
        {"$float": "AAAAAAAA8H8"},
        {"$float": "AAAAAAAA8H8AAA=="},
        {"$float": 1.0},
        {"$bytes": "A"},
        {"$bytes": "AP8"},
        {"$bytes": "A*8="},
        {"$bytes": "AP9="},  # non-canonical trailing bits
        {"$bytes": "é"},
        {"$bytes": None},
        {"$integer": "AQAAAAAAAAA=", "x": 1},
        {"$set": []},
        {"$map": []},
        {"$undefined": None},
        {"$foo": 1},
        {"ok": {"$nested": 1}},
        [{"a": 1, "$b": 2}],
        {1: 2},
        (1, 2),
        b"raw",
        object(),
    ],
)
def test_from_json_rejects_malformed_input(data: object) -> None:
    with pytest.raises(ConvexValueError):
        from_json(data)


@pytest.mark.parametrize(
    "value", [UNDEFINED, [UNDEFINED], (1,), {1, 2}, bytearray(b"x"), object(), 2**63, -(2**63) - 1]
)
def test_to_json_rejects_non_values(value: object) -> None:
    with pytest.raises(ConvexValueError):
        to_json(value)


@pytest.mark.parametrize("value", [{"$bytes": "AAAA"}, {"$integer": "AQAAAAAAAAA="}, {"a": {"$x": 1}}, {1: 2}])
def test_to_json_rejects_keys_that_would_be_misread(value: object) -> None:
    # Otherwise {"$bytes": "AAAA"} (an object holding a string) would come back as bytes.
    with pytest.raises(ConvexValueError):
        to_json(value)


# --- clean JSON ---------------------------------------------------------------------------------


def test_clean_json_is_lossy_and_readable() -> None:
    value = {"i": 33, "n": math.nan, "p": math.inf, "m": -math.inf, "z": -0.0, "b": b"\x00\xff", "u": UNDEFINED}
    assert to_clean_json(value) == {"i": "33", "n": "NaN", "p": "Infinity", "m": "-Infinity", "z": -0.0, "b": "AP8="}
    assert math.copysign(1.0, to_clean_json(-0.0)) == -1.0
    assert to_clean_json([True, None, "s", [1.5]]) == [True, None, "s", [1.5]]


@given(convex_values)
def test_clean_json_is_serializable(value: object) -> None:
    json.dumps(to_clean_json(value), allow_nan=False)


# --- total order --------------------------------------------------------------------------------


def test_known_values_are_in_ascending_order() -> None:
    for index, left in enumerate(ASCENDING_VALUES):
        assert compare_values(left, left) == 0
        for right in ASCENDING_VALUES[index + 1 :]:
            assert compare_values(left, right) == -1, (left, right)
            assert compare_values(right, left) == 1, (right, left)


def test_equality_is_total_order_equality() -> None:
    assert not values_equal(1, 1.0)
    assert not values_equal(0.0, -0.0)
    assert values_equal(math.nan, math.nan)
    assert not values_equal(math.nan, -math.nan)
    assert not values_equal(True, 1)
    assert not values_equal(False, 0.0)
    assert values_equal({"a": 1, "b": [b"x"]}, {"b": [b"x"], "a": 1})  # field order is irrelevant
    assert not values_equal(UNDEFINED, None)
    assert compare_values(2**62, -math.inf) == -1  # every int64 sorts before every float64


@given(convex_values_or_undefined)
def test_compare_is_reflexive(value: object) -> None:
    assert compare_values(value, copy.deepcopy(value)) == 0


@given(small_values_or_undefined, small_values_or_undefined)
def test_compare_is_antisymmetric(left: object, right: object) -> None:
    order = compare_values(left, right)
    assert order in (-1, 0, 1)
    assert compare_values(right, left) == -order
    # Equal in the order exactly when bit-for-bit the same value (field order aside).
    assert (order == 0) == bit_exact_equal(left, right)


@settings(max_examples=200)
@given(st.lists(small_values_or_undefined, min_size=3, max_size=3))
def test_compare_is_transitive(values: list[object]) -> None:
    a, b, c = sorted(values, key=functools.cmp_to_key(compare_values))
    assert compare_values(a, b) <= 0 and compare_values(b, c) <= 0 and compare_values(a, c) <= 0


@settings(max_examples=50)
@given(st.lists(convex_values, max_size=12))
def test_sorting_gives_a_consistent_chain(values: list[object]) -> None:
    ordered = sorted(values, key=functools.cmp_to_key(compare_values))
    for index, left in enumerate(ordered):
        for right in ordered[index + 1 :]:
            assert compare_values(left, right) <= 0


def test_non_values_have_no_rank() -> None:
    with pytest.raises(ConvexValueError):
        compare_values((1,), (1,))
    with pytest.raises(ConvexValueError):
        type_name(object())


def test_type_names() -> None:
    names = [type_name(v) for v in (UNDEFINED, None, 1, 1.0, True, "", b"", [], {})]
    assert names == ["undefined", "null", "bigint", "number", "boolean", "string", "bytes", "array", "object"]


# --- size ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (UNDEFINED, 0),
        (None, 1),
        (True, 1),
        (False, 1),
        (0, 9),
        (INT64_MIN, 9),
        (0.0, 9),
        (math.nan, 9),
        ("", 2),
        ("abc", 5),
        ("é", 4),
        ("\U0001f600", 6),
        (b"", 2),
        (b"\x00\xff", 4),
        ([], 2),
        ([1, None], 12),
        ({}, 2),
        ({"a": 1}, 13),
        ({"": None}, 4),
        ({"a": 1, "gone": UNDEFINED}, 13),  # an undefined field is dropped, not counted
        ({"x": {"y": [True]}}, 2 + (1 + 1 + (2 + (1 + 1 + 3)))),
    ],
)
def test_value_size_examples(value: object, size: int) -> None:
    assert value_size(value) == size


def test_document_size_counts_system_fields() -> None:
    document_id = "z43zp6c3e75gkmz1kfwj6mbbx5sw281h"
    assert len(document_id) == 32
    assert value_size({"_id": document_id}) - value_size({}) == 38
    assert value_size({"_creationTime": 1699931054642.111}) - value_size({}) == 23
    body = {"text": "hi"}
    document = {"_id": document_id, "_creationTime": 1699931054642.111, **body}
    assert value_size(document) == value_size(body) + 38 + 23


def _model_size(value: object) -> int:
    # Straight from the table in convex-semantics §1.5.
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, (int, float)):
        return 9
    if isinstance(value, str):
        return 2 + len(value.encode())
    if isinstance(value, bytes):
        return 2 + len(value)
    if isinstance(value, list):
        return 2 + sum(map(_model_size, value))
    assert isinstance(value, dict)
    return 2 + sum(len(key.encode()) + 1 + _model_size(item) for key, item in value.items())


@given(convex_values)
def test_value_size_matches_the_table(value: object) -> None:
    assert value_size(value) == _model_size(value)


def test_value_size_rejects_non_values() -> None:
    with pytest.raises(ConvexValueError):
        value_size((1, 2))


# --- check_value --------------------------------------------------------------------------------


@given(convex_values)
def test_every_generated_value_is_valid(value: object) -> None:
    check_value(value)


def test_value_nesting_limit_is_64() -> None:
    check_value(nested_lists(64))
    check_value(nested_dicts(64))
    with pytest.raises(ConvexValueError) as error:
        check_value(nested_lists(65))
    assert str(error.value) == "Value is too nested (nested 65 levels deep > maximum nesting 64)"
    with pytest.raises(ConvexValueError, match=r"^Value is too nested \(nested 70 levels deep > maximum nesting 64\)$"):
        check_value({"a": [1, nested_dicts(68)]})


def test_document_nesting_limit_is_16() -> None:
    check_value(nested_dicts(16), max_depth=knobs.MAX_DOCUMENT_NESTING)
    with pytest.raises(ConvexValueError) as error:
        check_value(nested_dicts(17), max_depth=knobs.MAX_DOCUMENT_NESTING)
    assert str(error.value) == "Document is too nested (nested 17 levels deep > maximum nesting 16)"
    with pytest.raises(ConvexValueError, match=r"nested 17 levels deep"):
        check_value({"a": [{"b": nested_lists(14)}]}, max_depth=16)


def test_absurdly_deep_values_fail_with_a_value_error() -> None:
    with pytest.raises(ConvexValueError, match=r"^Value is too nested \(nested 100000 levels deep"):
        check_value(nested_lists(100_000))
    assert nesting_depth(nested_lists(100_000)) == 100_000


def test_nesting_depth_counts_containers() -> None:
    assert [nesting_depth(v) for v in (1, [], [1], [[1]], {"a": [1]}, [{}, [[]]])] == [0, 1, 1, 2, 2, 3]


def test_array_length_limit_is_8192() -> None:
    check_value([None] * 8192)
    with pytest.raises(ConvexValueError) as error:
        check_value({"a": [None] * 8193})
    assert str(error.value).startswith("Array length is too long (8193 > maximum length 8192)")


def test_object_field_limit_is_1024() -> None:
    check_value({f"f{i}": i for i in range(1024)})
    with pytest.raises(ConvexValueError) as error:
        check_value([{f"f{i}": i for i in range(1025)}])
    assert str(error.value).startswith("Object has too many fields (1025 > maximum number 1024)")


@pytest.mark.parametrize(
    "name", ["", " ", "~", "a$", "_id", "_x", "a" * 1024, "!\"#%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}"]
)
def test_valid_field_names(name: str) -> None:
    check_field_name(name, "")
    check_value({name: 1})


@pytest.mark.parametrize("name", ["$", "$a", "a\n", "\x00", "\x7f", "é", "\U0001f600", "a" * 1025, 1, None, b"a"])
def test_invalid_field_names(name: object) -> None:
    with pytest.raises(ConvexValueError):
        check_value({"ok": {name: 1}})


def test_field_name_error_names_the_path() -> None:
    with pytest.raises(ConvexValueError, match=r"\.a\.b"):
        check_value({"a": {"b": {"$bad": 1}}})


def test_int64_range() -> None:
    check_value([INT64_MIN, INT64_MAX])
    for number in (INT64_MAX + 1, INT64_MIN - 1, 10**30):
        with pytest.raises(ConvexValueError, match="does not fit into a 64-bit signed integer"):
            check_value(number)
    with pytest.raises(ConvexValueError, match=r"\.a\[1\]"):
        check_value({"a": [0, 2**64]})


def test_bool_is_not_an_integer() -> None:
    check_value(True)
    assert type_name(True) == "boolean"
    assert compare_values(True, INT64_MAX) == 1 and compare_values(False, math.inf) == 1
    assert value_size(True) == 1
    assert to_json(True) is True


@pytest.mark.parametrize("text", ["\ud800", "a\udfff", "\udc00\ud800"])
def test_unpaired_surrogates_are_invalid(text: str) -> None:
    with pytest.raises(ConvexValueError, match="surrogate"):
        check_value(text)
    with pytest.raises(ConvexValueError, match=r"\.s\[0\]"):
        check_value({"s": [text]})


def test_astral_characters_and_nul_are_valid() -> None:
    check_value("\U0001f600\x00\U0010ffff")


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        {1, 2},
        frozenset(),
        bytearray(b"x"),
        memoryview(b"x"),
        object(),
        decimal.Decimal(1),
        1j,
        datetime.date(2024, 1, 1),
    ],
)
def test_non_convex_types_are_rejected(value: object) -> None:
    with pytest.raises(ConvexValueError, match=type(value).__name__):
        check_value(value)
    with pytest.raises(ConvexValueError, match=r"\.x\[0\]"):
        check_value({"x": [value]})


def test_undefined_is_only_allowed_as_a_dropped_field() -> None:
    check_value({"a": UNDEFINED})
    with pytest.raises(ConvexValueError, match=r"^undefined is not a valid Convex value \(present at path \.bad\[0\]"):
        check_value({"bad": [UNDEFINED]})
    with pytest.raises(ConvexValueError, match="undefined is not a valid Convex value"):
        check_value(UNDEFINED)


def test_strip_undefined() -> None:
    assert strip_undefined({"a": UNDEFINED, "b": [{"c": UNDEFINED, "d": 1}]}) == {"b": [{"d": 1}]}


def test_undefined_is_a_falsy_singleton() -> None:
    assert not UNDEFINED
    assert copy.deepcopy(UNDEFINED) is UNDEFINED
    assert repr(UNDEFINED) == "undefined"


def test_display() -> None:
    assert display(UNDEFINED) == "undefined"
    assert display(3) == "3n"
    assert display(3.0) == "3"
    assert display([True, None, 'q"']) == '[true, null, "q\\""]'
    assert display(math.nan) == "NaN" and display(-math.inf) == "-Infinity"
