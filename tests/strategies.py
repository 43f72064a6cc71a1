"""Hypothesis strategies for Convex values, and bit-exact equality for comparing them.

Reuse these in any test that needs arbitrary values: ``convex_values`` covers every type with its
edge cases (int64 extremes, NaNs with assorted payloads and signs, -0.0, ±inf, astral-plane and
NUL characters, bytes with 0x00/0xff, empty keys), ``small_values`` draws from a tiny domain so that
two independent draws are often equal or nearly so, which is what ordering properties need.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from hypothesis import strategies as st

from runtime.values.values import INT64_MAX, INT64_MIN, UNDEFINED


def float_from_bits(bits: int) -> float:
    """The double whose IEEE-754 bit pattern is the unsigned 64-bit ``bits``."""
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def float_bits(number: float) -> int:
    """The IEEE-754 bit pattern of ``number`` as an unsigned 64-bit integer."""
    return struct.unpack("<Q", struct.pack("<d", number))[0]


# --- scalars ------------------------------------------------------------------------------------

INT64_EDGES = [INT64_MIN, INT64_MIN + 1, -(2**53) - 1, -256, -1, 0, 1, 255, 2**53 + 1, INT64_MAX - 1, INT64_MAX]

int64s = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.sampled_from(INT64_EDGES))

# NaN: exponent all ones, mantissa non-zero, either sign; quiet and signalling payloads alike.
nans = st.builds(
    lambda sign, mantissa: float_from_bits((sign << 63) | (0x7FF << 52) | mantissa),
    st.integers(0, 1),
    st.one_of(st.integers(1, 2**52 - 1), st.sampled_from([1, 2**51, 2**51 + 1, 2**52 - 1])),
)

FLOAT_EDGES = [
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    -math.nan,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1.0,
    -1.0,
    0.1,
    2.0**53,
    2.0**63,
]

float64s = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(FLOAT_EDGES),
    nans,
    st.integers(0, 2**64 - 1).map(float_from_bits),
)

# Any code point but a surrogate; NUL, astral-plane and noncharacters included.
_code_points = st.characters(exclude_categories=("Cs",))
strings = st.one_of(
    st.text(_code_points, max_size=12),
    st.sampled_from(["", "\x00", "a\x00", "a\x00b", "\x00\x00", "\U0001f600", "\uffff", "\U0010ffff", "\ufeff", "ÿ"]),
)

binaries = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"", b"\x00", b"\xff", b"\x00\xff", b"\xff\x00", b"\x00\x00", b"a\x00"]),
)

scalars = st.one_of(st.none(), st.booleans(), int64s, float64s, strings, binaries)

# Field names: printable ASCII (32-126), not starting with '$'; the empty name is valid.
field_names = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8).filter(
        lambda name: not name.startswith("$")
    ),
    st.sampled_from(["", " ", "_id", "a", "ab", "~", "a$"]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=5), st.dictionaries(field_names, children, max_size=5))


convex_values = st.recursive(scalars, _containers, max_leaves=20)
"""Any valid Convex value."""

convex_documents = st.dictionaries(field_names, convex_values, max_size=6)
"""A valid Convex object (not checked against document-level rules such as ``_`` prefixes)."""

# --- a tiny domain, for ordering properties where near-collisions matter -------------------------

_small_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([INT64_MIN, -1, 0, 1, INT64_MAX]),
    st.sampled_from([-math.inf, -1.0, -0.0, 0.0, 1.0, math.inf, math.nan, -math.nan]),
    st.text(st.sampled_from("\x00ab\U0001f600"), max_size=3),
    st.binary(max_size=2).map(lambda raw: bytes(byte & 0x81 for byte in raw)),
)
small_values = st.recursive(
    _small_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.sampled_from(["", "a", "b", "ab"]), children, max_size=3)
    ),
    max_leaves=6,
)
"""Convex values from a small domain, so two draws are often equal or share a prefix."""

small_values_or_undefined = st.one_of(st.just(UNDEFINED), small_values)
convex_values_or_undefined = st.one_of(st.just(UNDEFINED), convex_values)


# --- known order (convex-semantics §1.4) --------------------------------------------------------

ASCENDING_VALUES: list[Any] = [
    UNDEFINED,
    None,
    INT64_MIN,
    -1,
    0,
    INT64_MAX,
    float_from_bits(0xFFFF_FFFF_FFFF_FFFF),  # the most negative NaN
    -math.nan,
    -math.inf,
    -1e308,
    -1.0,
    -5e-324,
    -0.0,
    0.0,
    5e-324,
    1.0,
    math.inf,
    math.nan,
    float_from_bits(0x7FFF_FFFF_FFFF_FFFF),
    False,
    True,
    "",
    "\x00",
    "A",
    "a",
    "a\x00",
    "ab",
    "\uffff",
    "\U00010000",  # JavaScript's UTF-16 `<` would put this before "\uffff"
    "\U0010ffff",
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x01",
    b"\xff",
    [],
    [UNDEFINED],
    [None],
    [0],
    [0, 0],
    [0.0],
    [[]],
    {},
    {"": None},
    {"a": None},
    {"a": None, "b": None},
    {"a": 1},
    {"a": 1.0},
    {"ab": None},
    {"b": None},
]
"""Distinct values in strictly ascending Convex order, covering every type and its edge cases."""


# --- equality -----------------------------------------------------------------------------------


def bit_exact_equal(left: Any, right: Any) -> bool:
    """Same type at every level, floats with identical bit patterns, dicts with the same fields."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return float_bits(left) == float_bits(right)
    if isinstance(left, list):
        return len(left) == len(right) and all(bit_exact_equal(a, b) for a, b in zip(left, right, strict=False))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(bit_exact_equal(item, right[key]) for key, item in left.items())
    if isinstance(left, tuple):
        return len(left) == len(right) and all(bit_exact_equal(a, b) for a, b in zip(left, right, strict=False))
    return bool(left == right)
