"""Order-preserving index keys: byte order equals the value order, and keys decode losslessly."""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.values.keys import decode_key, encode_key, encode_value
from runtime.values.values import INT64_MAX, INT64_MIN, UNDEFINED, compare_values
from tests.strategies import (
    ASCENDING_VALUES,
    bit_exact_equal,
    convex_values_or_undefined,
    float_from_bits,
    small_values_or_undefined,
)


def sign(number: int) -> int:
    return (number > 0) - (number < 0)


def byte_order(left: bytes, right: bytes) -> int:
    return (left > right) - (left < right)


def tuple_order(left: list[object], right: list[object]) -> int:
    """Lexicographic order of tuples under ``compare_values``; a proper prefix sorts first."""
    for left_item, right_item in zip(left, right, strict=False):
        order = compare_values(left_item, right_item)
        if order:
            return order
    return sign(len(left) - len(right))


value_tuples = st.lists(convex_values_or_undefined, max_size=4)
small_tuples = st.lists(small_values_or_undefined, max_size=3)


# --- round trip ---------------------------------------------------------------------------------


@given(value_tuples)
def test_decode_inverts_encode(values: list[object]) -> None:
    assert bit_exact_equal(decode_key(encode_key(values)), values)


@given(convex_values_or_undefined)
def test_single_value_round_trip(value: object) -> None:
    assert bit_exact_equal(decode_key(encode_value(value)), [value])


def test_nan_payloads_survive_keys() -> None:
    signalling = float_from_bits(0x7FF0_0000_0000_0001)
    for value in (math.nan, -math.nan, signalling, float_from_bits(0xFFF0_DEAD_BEEF_0001), -0.0, math.inf):
        assert bit_exact_equal(decode_key(encode_value(value)), [value])


@given(value_tuples, value_tuples)
def test_tuple_encoding_is_concatenation(left: list[object], right: list[object]) -> None:
    assert encode_key(left + right) == encode_key(left) + encode_key(right)
    assert encode_key(left) == b"".join(encode_value(value) for value in left)


# --- order --------------------------------------------------------------------------------------


@given(convex_values_or_undefined, convex_values_or_undefined)
def test_byte_order_is_value_order(left: object, right: object) -> None:
    assert byte_order(encode_value(left), encode_value(right)) == compare_values(left, right)


@settings(max_examples=300)
@given(small_values_or_undefined, small_values_or_undefined)
def test_byte_order_is_value_order_on_near_collisions(left: object, right: object) -> None:
    assert byte_order(encode_value(left), encode_value(right)) == compare_values(left, right)


@settings(max_examples=50)
@given(st.lists(st.one_of(small_values_or_undefined, convex_values_or_undefined), max_size=20))
def test_sorting_by_key_equals_sorting_by_value(values: list[object]) -> None:
    by_value = sorted(values, key=functools.cmp_to_key(compare_values))
    by_key = sorted(values, key=encode_value)
    assert [encode_value(v) for v in by_value] == [encode_value(v) for v in by_key]


def test_known_ascending_values_have_ascending_keys() -> None:
    keys = [encode_value(value) for value in ASCENDING_VALUES]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@settings(max_examples=300)
@given(small_tuples, small_tuples)
def test_tuple_keys_sort_lexicographically(left: list[object], right: list[object]) -> None:
    assert byte_order(encode_key(left), encode_key(right)) == tuple_order(left, right)


@given(value_tuples, value_tuples)
def test_tuple_keys_sort_lexicographically_on_arbitrary_values(left: list[object], right: list[object]) -> None:
    assert byte_order(encode_key(left), encode_key(right)) == tuple_order(left, right)


def test_nul_in_strings_and_bytes_does_not_break_tuple_order() -> None:
    # The classic escaping bug: ("a", x) versus ("a\x00", ...) must order by the first element.
    assert encode_key(["a", "z"]) < encode_key(["a\x00"])
    assert encode_key([b"a", b"\xff"]) < encode_key([b"a\x00"])
    assert encode_key([b"a\x00", UNDEFINED]) < encode_key([b"a\x00\x00"])
    assert encode_key([["a"], INT64_MAX]) < encode_key([["a", UNDEFINED]])
    assert encode_key([{"a": None}, {}]) < encode_key([{"a": None, "b": None}])


# --- layout and errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (UNDEFINED, b"\x01"),
        (None, b"\x03"),
        (False, b"\x0e"),
        (True, b"\x0f"),
        ("", b"\x10\x00"),
        ("a\x00", b"\x10a\x00\xff\x00"),
        (b"\x00\xff", b"\x11\x00\xff\xff\x00"),
        ([], b"\x12\x00"),
        ({}, b"\x15\x00"),
    ],
)
def test_tags_follow_the_backend_layout(value: object, encoded: bytes) -> None:
    assert encode_value(value) == encoded


def test_numbers_keep_their_types() -> None:
    assert encode_value(1) != encode_value(1.0)
    assert encode_value(0.0) != encode_value(-0.0)
    assert encode_value(True) != encode_value(1)
    assert encode_value(math.nan) == encode_value(math.nan)
    assert encode_value(INT64_MIN)[0] == encode_value(INT64_MAX)[0] == 0x04


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**64])
def test_out_of_range_integers_cannot_become_keys(value: int) -> None:
    # Silently wrapping would make 2**63 collide with INT64_MIN.
    with pytest.raises(ValueError):
        encode_value(value)


@pytest.mark.parametrize("value", [(1,), object(), {1, 2}, {1: 2}])
def test_non_values_cannot_become_keys(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        encode_value(value)


@pytest.mark.parametrize(
    "key",
    [
        b"\x02",  # unknown tag
        b"\xff",
        b"\x04\x00\x00",  # truncated int64
        b"\x0d\x00",  # truncated float64
        b"\x10abc",  # unterminated string
        b"\x11a\x00\xff",  # bytes cut after an escape
        b"\x12\x03",  # unterminated array
        b"\x15\x01a",  # object field without a value
        b"\x15\x01a\x00\x03",  # unterminated object
        b"\x10\xff\x00",  # not UTF-8
    ],
)
def test_corrupt_keys_raise_value_error(key: bytes) -> None:
    with pytest.raises(ValueError):
        decode_key(key)


def test_empty_key_is_the_empty_tuple() -> None:
    assert decode_key(b"") == []
    assert encode_key([]) == b""
