"""Convex values in Python: types, total order, sizes, limits and the wire JSON encodings.

Python representation (one mapping, used everywhere in the runtime):

    Convex  | Python
    --------+---------------------------------------------------------------
    null    | None
    int64   | int (never bool; bool is checked first everywhere)
    float64 | float (always, even when integral)
    boolean | bool
    string  | str
    bytes   | bytes
    array   | list
    object  | dict with str keys

``UNDEFINED`` stands for "missing": it is not a value, but it is a legal comparison operand
(it sorts below null) and, in ``db.patch``, the way to remove a field.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any, Final, Self, cast

from runtime import knobs


class ConvexValueError(ValueError):
    """A Python object that is not a valid Convex value, or breaks a value limit."""


class _Undefined:
    """The singleton that means "field is missing" (JavaScript's ``undefined``)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> Self:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cast(Self, cls._instance)

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()

Value = Any
"""A Convex value as described in the module docstring (typing cannot express it precisely)."""

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# Rank of each type in Convex's cross-type total order (missing first, object last).
_RANK_UNDEFINED, _RANK_NULL, _RANK_INT, _RANK_FLOAT, _RANK_BOOL = 0, 1, 2, 3, 4
_RANK_STR, _RANK_BYTES, _RANK_LIST, _RANK_DICT = 5, 6, 7, 8


def type_rank(value: Value) -> int:
    """Position of ``value``'s type in the cross-type order of convex-semantics §1.4."""
    if value is None:
        return _RANK_NULL
    if value is UNDEFINED:
        return _RANK_UNDEFINED
    if isinstance(value, bool):
        return _RANK_BOOL
    if isinstance(value, int):
        return _RANK_INT
    if isinstance(value, float):
        return _RANK_FLOAT
    if isinstance(value, str):
        return _RANK_STR
    if isinstance(value, bytes):
        return _RANK_BYTES
    if isinstance(value, list):
        return _RANK_LIST
    if isinstance(value, dict):
        return _RANK_DICT
    raise ConvexValueError(f"{type(value).__name__} is not a supported Convex type: {value!r}")


def type_name(value: Value) -> str:
    """The Convex name of ``value``'s type, as used in error messages."""
    if value is UNDEFINED:
        return "undefined"
    names = {
        _RANK_NULL: "null",
        _RANK_INT: "bigint",
        _RANK_FLOAT: "number",
        _RANK_BOOL: "boolean",
        _RANK_STR: "string",
        _RANK_BYTES: "bytes",
        _RANK_LIST: "array",
        _RANK_DICT: "object",
    }
    return names[type_rank(value)]


def float_order_key(number: float) -> int:
    """A signed integer whose order is IEEE-754 total order over doubles (NaNs by bit pattern)."""
    (bits,) = struct.unpack("<q", struct.pack("<d", number))
    return bits ^ 0x7FFF_FFFF_FFFF_FFFF if bits < 0 else bits


def compare_values(left: Value, right: Value) -> int:
    """Convex's total order: -1, 0 or 1. Equality here is the only equality queries use."""
    left_rank, right_rank = type_rank(left), type_rank(right)
    if left_rank != right_rank:
        return -1 if left_rank < right_rank else 1
    if left_rank == _RANK_FLOAT:
        left, right = float_order_key(left), float_order_key(right)
    elif left_rank == _RANK_STR:
        # Python compares str by code point, which equals UTF-8 byte order.
        pass
    elif left_rank == _RANK_LIST:
        for left_item, right_item in zip(left, right, strict=False):
            order = compare_values(left_item, right_item)
            if order:
                return order
        left, right = len(left), len(right)
    elif left_rank == _RANK_DICT:
        left_items, right_items = sorted(left.items()), sorted(right.items())
        for (left_key, left_item), (right_key, right_item) in zip(left_items, right_items, strict=False):
            if left_key != right_key:
                return -1 if left_key < right_key else 1
            order = compare_values(left_item, right_item)
            if order:
                return order
        left, right = len(left_items), len(right_items)
    elif left_rank in (_RANK_NULL, _RANK_UNDEFINED):
        return 0
    return (left > right) - (left < right)


def values_equal(left: Value, right: Value) -> bool:
    """Equality in the total order: ``1 != 1.0``, ``nan == nan``, ``-0.0 != 0.0``."""
    return compare_values(left, right) == 0


def value_size(value: Value) -> int:
    """Convex's ``getConvexSize``: the size that document and argument limits are measured in."""
    if value is UNDEFINED:
        return 0
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 9
    if isinstance(value, str):
        return 2 + len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes):
        return 2 + len(value)
    if isinstance(value, list):
        return 2 + sum(value_size(item) for item in value)
    if isinstance(value, dict):
        # An undefined field is dropped at the boundary, so it has no size (as in getConvexSize).
        return 2 + sum(
            len(key.encode("utf-8", "surrogatepass")) + 1 + value_size(item)
            for key, item in value.items()
            if item is not UNDEFINED
        )
    raise ConvexValueError(f"{type(value).__name__} is not a supported Convex type: {value!r}")


def binary_size(size: int) -> str:
    """A byte count as Convex prints it in limit errors: ``512 B``, ``16 MiB``, ``17.5 MiB``."""
    amount, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{amount:.2f}".rstrip("0").rstrip(".") + f" {unit}"


def nesting_depth(value: Value) -> int:
    """Containers counted from the outside: a scalar is 0, ``[1]`` is 1, ``[[1]]`` is 2."""
    # Iterative, so that measuring an absurdly deep value (to report it) cannot hit the recursion limit.
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        else:
            continue
        deepest = max(deepest, depth + 1)
    return deepest


def check_field_name(name: object, path: str) -> None:
    """Object keys: str, at most 1024 printable ASCII characters, not starting with ``$``."""
    if not isinstance(name, str):
        raise ConvexValueError(f"Object keys must be strings, found {name!r} at path {path or '.'}")
    if len(name) > knobs.MAX_FIELD_NAME_LENGTH:
        raise ConvexValueError(
            f"Field name {name[:40]!r}... at path {path or '.'} is too long "
            f"({len(name)} > maximum {knobs.MAX_FIELD_NAME_LENGTH})"
        )
    if name.startswith("$"):
        raise ConvexValueError(f"Field name {name!r} at path {path or '.'} starts with a '$', which is reserved.")
    if name.isascii() and name.isprintable():
        return  # printable ASCII is exactly codes 32-126
    for char in name:
        if not 32 <= ord(char) <= 126:
            raise ConvexValueError(
                f"Field name {name!r} at path {path or '.'} has invalid character {char!r}: "
                "field names can only contain non-control ASCII characters"
            )


def check_value(value: Value, path: str = "", *, max_depth: int = knobs.MAX_VALUE_NESTING) -> None:
    """Raise ``ConvexValueError`` unless ``value`` is a valid Convex value within the limits.

    ``path`` names where the value sits (``.a.b[3]``) so the error can point at it.
    """
    # Every call and every write checks values: a fast walk that builds no strings comes first,
    # and only a value it refuses is walked again to say exactly what is wrong and where.
    if not _is_valid(value, 0, max_depth):
        _check(value, path, 0, max_depth)


def _is_valid(value: Value, depth: int, max_depth: int) -> bool:
    kind = type(value)
    if value is None or kind is bool or kind is float or kind is bytes:
        return True
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind is int:
        return INT64_MIN <= value <= INT64_MAX
    if kind is list:
        return (
            depth < max_depth
            and len(value) <= knobs.MAX_ARRAY_LENGTH
            and all(_is_valid(item, depth + 1, max_depth) for item in value)
        )
    if kind is dict:
        return (
            depth < max_depth
            and len(value) <= knobs.MAX_OBJECT_FIELDS
            and all(
                type(key) is str
                and len(key) <= knobs.MAX_FIELD_NAME_LENGTH
                and key.isascii()
                and key.isprintable()
                and not key.startswith("$")
                and (item is UNDEFINED or _is_valid(item, depth + 1, max_depth))
                for key, item in value.items()
            )
        )
    return False  # subclasses and anything else: the careful walk decides and explains


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Value, path: str, depth: int, max_depth: int) -> None:
    if value is None or isinstance(value, (bool, float, bytes)):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConvexValueError(f"Integer {value} does not fit into a 64-bit signed integer (at path {path or '.'})")
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConvexValueError(f"String at path {path or '.'} is not valid Unicode (unpaired surrogate)") from None
        return
    if value is UNDEFINED:
        raise ConvexValueError(f"undefined is not a valid Convex value (present at path {path or '.'})")
    if isinstance(value, (list, dict)):
        if depth + 1 > max_depth:
            kind = "Document" if max_depth == knobs.MAX_DOCUMENT_NESTING else "Value"
            levels = nesting_depth(value) + depth
            raise ConvexValueError(f"{kind} is too nested (nested {levels} levels deep > maximum nesting {max_depth})")
        if isinstance(value, list):
            if len(value) > knobs.MAX_ARRAY_LENGTH:
                raise ConvexValueError(
                    f"Array length is too long ({len(value)} > maximum length {knobs.MAX_ARRAY_LENGTH})"
                )
            for index, item in enumerate(value):
                _check(item, f"{path}[{index}]", depth + 1, max_depth)
            return
        if len(value) > knobs.MAX_OBJECT_FIELDS:
            raise ConvexValueError(
                f"Object has too many fields ({len(value)} > maximum number {knobs.MAX_OBJECT_FIELDS})"
            )
        for key, item in value.items():
            check_field_name(key, path)
            if item is UNDEFINED:
                continue  # dropped at the boundary, like JavaScript's undefined-valued properties
            _check(item, f"{path}.{key}", depth + 1, max_depth)
        return
    raise ConvexValueError(f"{type(value).__name__} is not a supported Convex type (at path {path or '.'}): {value!r}")


def strip_undefined(value: Value) -> Value:
    """Drop object fields whose value is ``UNDEFINED``, as crossing a function boundary does."""
    if isinstance(value, dict):
        return {key: strip_undefined(item) for key, item in value.items() if item is not UNDEFINED}
    if isinstance(value, list):
        return [strip_undefined(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# Wire encodings
# ---------------------------------------------------------------------------------------------

_SPECIAL_KEYS: Final = frozenset({"$integer", "$float", "$bytes"})


def to_json(value: Value) -> Any:
    """Encode a value as Convex's lossless "encoded JSON" (``$integer``, ``$float``, ``$bytes``).

    Raises ``ConvexValueError`` for anything that would not decode back to the same value: non-Convex
    types, integers outside int64, ``undefined`` outside an object field, and object keys that are
    not strings or start with ``$`` (``{"$bytes": "AAAA"}`` would come back as bytes).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConvexValueError(f"BigInt {value} does not fit into a 64-bit signed integer.")
        return {"$integer": base64.b64encode(struct.pack("<q", value)).decode()}
    if isinstance(value, float):
        if math.isfinite(value) and not (value == 0.0 and math.copysign(1.0, value) < 0):
            return value
        return {"$float": base64.b64encode(struct.pack("<d", value)).decode()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        encoded = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise ConvexValueError(f"Field name {key!r} is not a string or starts with a '$', which is reserved.")
            if item is not UNDEFINED:
                encoded[key] = to_json(item)
        return encoded
    if value is UNDEFINED:
        raise ConvexValueError("undefined is not a valid Convex value")
    raise ConvexValueError(f"{type(value).__name__} is not a supported Convex type: {value!r}")


def from_json(data: Any) -> Value:
    """Decode Convex encoded JSON. JSON numbers always become float64, as in the official clients.

    Raises ``ConvexValueError`` for malformed ``$integer``/``$float``/``$bytes`` objects, other
    ``$``-prefixed keys, integers too large for a double, and input nested too deeply to walk.
    """
    try:
        return _from_json(data)
    except RecursionError:
        raise ConvexValueError("Value is too nested to decode") from None


def _from_json(data: Any) -> Value:
    if data is None or isinstance(data, (bool, str)):
        return data
    if isinstance(data, int):
        try:
            return float(data)
        except OverflowError:
            raise ConvexValueError(f"Number {data} is out of range for a float64") from None
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [_from_json(item) for item in data]
    if isinstance(data, dict):
        if len(data) == 1:
            ((key, payload),) = data.items()
            if key in _SPECIAL_KEYS:
                return _decode_special(key, payload)
        decoded = {}
        for key, item in data.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise ConvexValueError(f"Field name {key!r} is not a string or starts with a '$', which is reserved.")
            decoded[key] = _from_json(item)
        return decoded
    raise ConvexValueError(f"Unexpected JSON value: {data!r}")


def _decode_special(key: str, payload: Any) -> Value:
    if not isinstance(payload, str):
        raise ConvexValueError(f"Malformed {key} value: expected a base64 string, got {payload!r}")
    try:
        raw = base64.b64decode(payload, validate=True)
    except ValueError:
        raise ConvexValueError(f"Malformed {key} value: {payload!r} is not valid base64") from None
    if base64.b64encode(raw).decode() != payload:
        # Nonzero padding bits: the Rust backend's decoder rejects these, so we do too.
        raise ConvexValueError(f"Malformed {key} value: {payload!r} is not canonical base64")
    if key == "$bytes":
        return raw
    if len(raw) != 8:
        raise ConvexValueError(f"Malformed {key} value: expected 8 bytes, got {len(raw)}")
    if key == "$integer":
        return struct.unpack("<q", raw)[0]
    number = struct.unpack("<d", raw)[0]
    if math.isfinite(number) and not (number == 0.0 and math.copysign(1.0, number) < 0):
        raise ConvexValueError(f"Malformed $float value: {number} must be encoded as a plain JSON number")
    return number


def to_clean_json(value: Value) -> Any:
    """Lossy human-readable JSON (the HTTP API's ``json`` format): int64 as decimal strings etc."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [to_clean_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_clean_json(item) for key, item in value.items() if item is not UNDEFINED}
    raise ConvexValueError(f"{type(value).__name__} is not a supported Convex type: {value!r}")


def display(value: Value) -> str:
    """Render a value for error messages roughly the way Convex prints JavaScript values."""
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return f"{value}n"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(int(value)) if value.is_integer() and abs(value) < 2**53 and str(value) != "-0.0" else repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return f"ArrayBuffer({len(value)} bytes)"
    if isinstance(value, list):
        return "[" + ", ".join(display(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {display(item)}" for key, item in value.items()) + "}"
    return repr(value)


def backend_display(value: Value) -> str:
    """A value as the Convex backend prints it in its own messages (index ranges, arguments):
    ``1`` for an int64, ``1.0`` for a float64, ``[1, 2.5]``, ``{a: 1}``; the rest as ``display``."""
    if isinstance(value, list):
        return "[" + ", ".join(map(backend_display, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {backend_display(item)}" for key, item in value.items()) + "}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return display(value)  # undefined, null, booleans, strings and bytes print alike
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
