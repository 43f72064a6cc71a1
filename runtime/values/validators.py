"""Convex validators (``v.string()``, ``v.object({...})`` …): what function arguments, return values
and schema documents are checked against.

Validation runs on every function call and every document write, so each validator is compiled
once, at construction, into a closure ``accepts(value, tables) -> bool`` that allocates nothing and
builds no strings. Only when that fast path says no does the slow path walk the value again to
produce Convex's exact message (the ``ValidationError`` texts of the backend's
``crates/common/src/schemas/validator.rs``): fields are visited in sorted order, the ``Path:`` of
the first failure is reported (``.a.b[3]``, ``.keys()``, ``.values()``), objects are shown with
sorted keys. A hypothesis test keeps the two paths in agreement.

Semantics follow convex-semantics §2.3 and §6.3: ``int`` is int64 and ``float`` is float64 (never
interchangeable, ``bool`` is neither), a field whose value is ``UNDEFINED`` is missing, objects
reject extra fields, ``v.optional`` only matters as an object field. Plain type hints are a second
spelling of the same validators (``runtime/functions/annotations.py``).
"""

from __future__ import annotations

import functools
import json
import math
import re
import types
from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any, Final, Protocol

from runtime import knobs
from runtime.values import ids
from runtime.values.errors import ArgumentValidationError, ReturnsValidationError
from runtime.values.values import INT64_MAX, INT64_MIN, UNDEFINED, Value, backend_display, display, to_json


class ValidationFailure(Exception):
    """A value that does not match a validator; ``str()`` is Convex's message, ``Path:`` included."""


class TableNames(Protocol):
    """Maps table numbers to table names (the database passes itself) so ``v.id`` can check ids."""

    def table_name(self, table_number: int) -> str | None: ...


Accepts = Callable[[Any, "TableNames | None"], bool]
"""The compiled fast path of a validator: does ``value`` match? No message, no allocation."""

LiteralValue = str | int | float | bool  # int and float are distinct Convex types (int64, float64)


# ---------------------------------------------------------------------------------------------
# Identifiers (shared with runtime.values.schema)
# ---------------------------------------------------------------------------------------------

IDENTIFIER_REQUIREMENTS: Final = (
    "Identifiers must start with a letter and can only contain letters, digits, and underscores."
)


def identifier_error(name: str) -> str | None:
    """Why ``name`` is not an identifier (table, index, field name), in Convex's words, or None."""
    if not name:
        return "Identifier cannot be empty"
    first = name[0]
    if not (first.isascii() and first.isalpha()) and first != "_":
        return (
            f"Invalid first character {first!r} in {name}: "
            "Identifiers must start with an alphabetic character or underscore"
        )
    for char in name:
        if not (char.isascii() and char.isalnum()) and char != "_":
            return (
                f"Identifier {name} has invalid character {char!r}: "
                "Identifiers can only contain alphanumeric characters or underscores"
            )
    if len(name) > knobs.MAX_IDENTIFIER_LENGTH:
        return f"Identifier is too long ({len(name)} > maximum {knobs.MAX_IDENTIFIER_LENGTH})"
    if set(name) == {"_"}:
        return f"Identifier {name} cannot have exclusively underscores"
    return None


# ---------------------------------------------------------------------------------------------
# Message helpers (slow path only)
# ---------------------------------------------------------------------------------------------


def _context(path: str) -> str:
    return f"Path: {path}" if path else ""


def _canonical(value: Value) -> Value:
    """``value`` as Convex prints it: object keys sorted, ``UNDEFINED`` fields dropped."""
    if isinstance(value, dict):
        items = [(key, item) for key, item in value.items() if item is not UNDEFINED]
        try:
            items.sort(key=lambda pair: pair[0])
        except TypeError:
            pass  # non-string keys: not a Convex object, show it as it is
        return {key: _canonical(item) for key, item in items}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _show(value: Value) -> str:
    return display(_canonical(value))


def _no_match(value: Value, validator: Validator, path: str) -> str:
    return (
        f"Value does not match validator.\n{_context(path)}\nValue: {_show(value)}\nValidator: {validator.describe()}"
    )


# ---------------------------------------------------------------------------------------------
# The validator kinds
# ---------------------------------------------------------------------------------------------


class Validator:
    """An immutable Convex validator. ``check`` raises ``ValidationFailure`` with Convex's message.

    ``is_optional`` is set by ``v.optional(...)`` and only means something for an object field.
    Equal validators compare equal (``v.number() == v.float64()``, as in Convex's JSON form).
    """

    __slots__ = ("_accepts", "is_optional")
    is_optional: bool
    _accepts: Accepts

    def __init__(self, accepts: Accepts) -> None:
        object.__setattr__(self, "_accepts", accepts)
        object.__setattr__(self, "is_optional", False)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def check(self, value: Value, path: str = "", tables: TableNames | None = None) -> None:
        """Raise ``ValidationFailure`` unless ``value`` (found at ``path``) matches."""
        if self._accepts(value, tables):
            return
        message = self._failure(value, path, tables)
        raise ValidationFailure(message or _no_match(value, self, path))

    def accepts(self, value: Value, tables: TableNames | None = None) -> bool:
        """Whether ``value`` matches, without building an error message."""
        return self._accepts(value, tables)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        """Convex's message for the first mismatch inside ``value``, or None if it matches."""
        return None if self._accepts(value, tables) else _no_match(value, self, path)

    def describe(self) -> str:
        """Convex's rendering of this validator in messages, ignoring ``is_optional``."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """Convex's JSON form (``{"type": "string"}``); optionality lives in the enclosing object."""
        raise NotImplementedError

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def as_optional(self) -> Validator:
        """A copy of this validator with ``is_optional`` set (what ``v.optional`` returns)."""
        clone = object.__new__(type(self))
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                object.__setattr__(clone, slot, getattr(self, slot))
        object.__setattr__(clone, "is_optional", True)
        return clone

    def __repr__(self) -> str:
        return f"v.optional({self.describe()})" if self.is_optional else self.describe()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Validator):
            return NotImplemented
        return (self.is_optional, self._key()) == (other.is_optional, other._key())

    def __hash__(self) -> int:
        return hash((self.is_optional, self._key()))


def _is_int64(value: Value, tables: TableNames | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX


# kind -> (Convex rendering, JSON "type", fast path)
_SCALARS: Final[dict[str, tuple[str, str, Accepts]]] = {
    "null": ("v.null()", "null", lambda value, tables: value is None),
    "float64": ("v.float64()", "number", lambda value, tables: isinstance(value, float)),
    "int64": ("v.int64()", "bigint", _is_int64),
    "boolean": ("v.boolean()", "boolean", lambda value, tables: value is True or value is False),
    "string": ("v.string()", "string", lambda value, tables: isinstance(value, str)),
    "bytes": ("v.bytes()", "bytes", lambda value, tables: isinstance(value, bytes)),
    "any": ("v.any()", "any", lambda value, tables: True),
}


class ScalarValidator(Validator):
    """``v.null() v.float64() v.int64() v.boolean() v.string() v.bytes() v.any()``."""

    __slots__ = ("kind",)
    kind: str

    def __init__(self, kind: str) -> None:
        super().__init__(_SCALARS[kind][2])
        object.__setattr__(self, "kind", kind)

    def describe(self) -> str:
        return _SCALARS[self.kind][0]

    def to_json(self) -> dict[str, Any]:
        return {"type": _SCALARS[self.kind][1]}

    def _key(self) -> tuple[Any, ...]:
        return (self.kind,)


# Scalars whose fast path is one isinstance() test, which containers inline instead of calling.
_PLAIN_TYPES: Final[dict[str, type]] = {
    "null": type(None),
    "float64": float,
    "boolean": bool,
    "string": str,
    "bytes": bytes,
}


def _plain_type(validator: Validator) -> type | None:
    """The type ``validator`` amounts to an isinstance() test of, if it is that simple."""
    return _PLAIN_TYPES.get(validator.kind) if isinstance(validator, ScalarValidator) else None


def _id_table_number(text: str) -> int | None:
    """The table number of id ``text``, or None. Only strings of an id's length reach the cache."""
    if not ids.MIN_ID_LENGTH <= len(text) <= ids.MAX_ID_LENGTH:
        return None
    return _decoded_table_number(text)


@functools.lru_cache(maxsize=knobs.VALIDATOR_ID_CACHE_SIZE)
def _decoded_table_number(text: str) -> int | None:
    # Decoding an id costs ~20 µs and the same ids come back call after call.
    return ids.id_table_number(text)


class IdValidator(Validator):
    """``v.id(table)``: a string that decodes to an id of ``table`` (the document need not exist)."""

    __slots__ = ("table",)
    table: str

    def __init__(self, table: str) -> None:
        if not isinstance(table, str):
            raise TypeError(f"v.id(...) takes a table name, got {table!r}")
        if (error := identifier_error(table)) is not None:
            raise ValueError(f'Invalid table name in v.id("{table}"): {error}')

        def accepts(value: Value, tables: TableNames | None) -> bool:
            if not isinstance(value, str) or tables is None:
                return False
            number = _id_table_number(value)
            return number is not None and tables.table_name(number) == table

        super().__init__(accepts)
        object.__setattr__(self, "table", table)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if self._accepts(value, tables):
            return None
        number = _id_table_number(value) if isinstance(value, str) else None
        found = tables.table_name(number) if number is not None and tables is not None else None
        if found is None:
            return _no_match(value, self, path)
        where = "a system table" if found.startswith("_") else f"table `{found}`"
        return (
            f'Found ID "{value}" from {where}, which does not match the table name in validator '
            f"`{self.describe()}`.{_context(path)}"
        )

    def describe(self) -> str:
        return f'v.id("{self.table}")'

    def to_json(self) -> dict[str, Any]:
        return {"type": "id", "tableName": self.table}

    def _key(self) -> tuple[Any, ...]:
        return ("id", self.table)


def _literal_text(literal: LiteralValue) -> str:
    """How Convex prints a literal: JSON, except int64 which shows as ``<bigint>``."""
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, int):
        return "<bigint>"
    if isinstance(literal, float):  # as serde_json prints it: 1.0, 1e16, 1e-7
        return re.sub(r"e(-?)\+?0*(\d)", r"e\1\2", repr(literal))
    return json.dumps(literal, ensure_ascii=False)


def _literal_accepts(literal: LiteralValue) -> Accepts:
    if isinstance(literal, bool):
        return lambda value, tables: value is literal
    if isinstance(literal, int):
        return lambda value, tables: isinstance(value, int) and not isinstance(value, bool) and value == literal
    if isinstance(literal, float):
        sign = math.copysign(1.0, literal)  # -0.0 and 0.0 are different Convex values
        return lambda value, tables: isinstance(value, float) and value == literal and math.copysign(1.0, value) == sign
    return lambda value, tables: isinstance(value, str) and value == literal


class LiteralValidator(Validator):
    """``v.literal(x)`` for a string, int64, float64 or boolean ``x``; equality is Convex's."""

    __slots__ = ("value",)
    value: LiteralValue

    def __init__(self, literal: LiteralValue) -> None:
        if not isinstance(literal, (str, int, float)):
            raise TypeError(f"v.literal(...) takes a string, int, float or bool, got {literal!r}")
        if isinstance(literal, float) and not math.isfinite(literal):
            raise ValueError("Infinite or NaN values are not supported in literal validators.")
        if isinstance(literal, int) and not isinstance(literal, bool) and not INT64_MIN <= literal <= INT64_MAX:
            raise ValueError(f"v.literal({literal}) does not fit into a 64-bit signed integer")
        super().__init__(_literal_accepts(literal))
        object.__setattr__(self, "value", literal)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if self._accepts(value, tables):
            return None
        return f"`{_show(value)}` does not match literal validator `{self.describe()}`.{_context(path)}"

    def describe(self) -> str:
        return f"v.literal({_literal_text(self.value)})"

    def to_json(self) -> dict[str, Any]:
        return {"type": "literal", "value": to_json(self.value)}

    def _key(self) -> tuple[Any, ...]:
        literal = self.value
        sign = math.copysign(1.0, literal) if isinstance(literal, float) else 0.0
        return ("literal", type(literal).__name__, literal, sign)


def _required(validator: object, where: str) -> Validator:
    """Members of arrays, unions and records must be validators that are not ``v.optional``."""
    if not isinstance(validator, Validator):
        raise TypeError(f"{where} takes validators such as v.string(), got {validator!r}")
    if validator.is_optional:
        raise TypeError(f"{validator!r} is only meaningful as an object field, not inside {where}")
    return validator


def _array_accepts(element: Validator) -> Accepts:
    plain, check = _plain_type(element), element._accepts
    if plain is not None:  # e.g. a vector of float64s: test every element in one C-level loop
        return lambda value, tables: isinstance(value, list) and all(map(isinstance, value, repeat(plain)))

    def accepts(value: Value, tables: TableNames | None) -> bool:
        if not isinstance(value, list):
            return False
        for item in value:
            if not check(item, tables):
                return False
        return True

    return accepts


class ArrayValidator(Validator):
    """``v.array(element)``: a list whose every element matches ``element``."""

    __slots__ = ("element",)
    element: Validator

    def __init__(self, element: Validator) -> None:
        element = _required(element, "v.array(...)")
        super().__init__(_array_accepts(element))
        object.__setattr__(self, "element", element)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if not isinstance(value, list):
            return _no_match(value, self, path)
        for index, item in enumerate(value):
            if (message := self.element._failure(item, f"{path}[{index}]", tables)) is not None:
                return message
        return None

    def describe(self) -> str:
        return f"v.array({self.element.describe()})"

    def to_json(self) -> dict[str, Any]:
        return {"type": "array", "value": self.element.to_json()}

    def _key(self) -> tuple[Any, ...]:
        return ("array", self.element)


def _object_accepts(fields: Mapping[str, Validator]) -> Accepts:
    plan = tuple((name, field.is_optional, _plain_type(field), field._accepts) for name, field in fields.items())
    names = frozenset(fields)

    def accepts(value: Value, tables: TableNames | None) -> bool:
        if not isinstance(value, dict):
            return False
        present = 0
        for name, optional, plain, check in plan:
            item = value.get(name, UNDEFINED)
            if item is UNDEFINED:
                if optional:
                    continue
                return False
            if plain is not None:
                if not isinstance(item, plain):
                    return False
            elif not check(item, tables):
                return False
            present += 1
        if present == len(value):
            return True
        # Keys we did not count are extra fields, which only pass when their value is UNDEFINED.
        return all(item is UNDEFINED for key, item in value.items() if key not in names)

    return accepts


class ObjectValidator(Validator):
    """``v.object({...})``: required fields present, optional ones absent or matching, no extras."""

    __slots__ = ("fields",)
    fields: Mapping[str, Validator]

    def __init__(self, fields: Mapping[str, Validator]) -> None:
        if not isinstance(fields, Mapping):
            raise TypeError(f"v.object(...) takes a dict of field validators, got {fields!r}")
        for name, field in fields.items():
            if not isinstance(name, str):
                raise TypeError(f"v.object(...) field names are strings, got {name!r}")
            if (error := identifier_error(name)) is not None:
                raise ValueError(f"Invalid validator for key `{name}`: {error}")
            if not isinstance(field, Validator):
                raise TypeError(
                    f"Invalid validator for key `{name}`: expected a validator such as v.string(), got {field!r}"
                )
        frozen = types.MappingProxyType(dict(fields))
        super().__init__(_object_accepts(frozen))
        object.__setattr__(self, "fields", frozen)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if not isinstance(value, dict):
            return _no_match(value, self, path)
        for name in sorted(self.fields):
            field = self.fields[name]
            item = value.get(name, UNDEFINED)
            if item is UNDEFINED:
                if not field.is_optional:
                    return self._object_error(
                        f"Object is missing the required field `{name}`. Consider wrapping the field validator "
                        "in `v.optional(...)` if this is expected.",
                        value,
                        path,
                    )
            elif (message := field._failure(item, f"{path}.{name}", tables)) is not None:
                return message
        extra = sorted(key for key, item in value.items() if item is not UNDEFINED and key not in self.fields)
        if extra:
            return self._object_error(
                f"Object contains extra field `{extra[0]}` that is not in the validator.", value, path
            )
        return None

    def _object_error(self, headline: str, value: dict[str, Any], path: str) -> str:
        return f"{headline}\n{_context(path)}\nObject: {_show(value)}\nValidator: {self.describe()}"

    def describe(self) -> str:
        return "v.object({" + ", ".join(f"{name}: {self.fields[name]!r}" for name in sorted(self.fields)) + "})"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "object",
            "value": {
                name: {"fieldType": field.to_json(), "optional": field.is_optional}
                for name, field in self.fields.items()
            },
        }

    def _key(self) -> tuple[Any, ...]:
        return ("object", tuple(sorted(self.fields.items(), key=lambda pair: pair[0])))


def _record_key_error(keys: Validator) -> str | None:
    """Convex allows ``v.string()``, ``v.id(...)`` and unions of them as record keys."""
    if isinstance(keys, UnionValidator):
        return next((error for member in keys.members if (error := _record_key_error(member))), None)
    if isinstance(keys, LiteralValidator) and isinstance(keys.value, str):
        return "Records cannot have string literal keys"
    if isinstance(keys, IdValidator) or (isinstance(keys, ScalarValidator) and keys.kind == "string"):
        return None
    return (
        f"Records can only have string keys. Your validator contains a record with key typed as "
        f"`{keys.describe()}`, which is not a subtype of `v.string()`"
    )


class RecordValidator(Validator):
    """``v.record(keys, values)``: an object whose every key matches ``keys`` and value ``values``."""

    __slots__ = ("keys", "values")
    keys: Validator
    values: Validator

    def __init__(self, keys: Validator, values: Validator) -> None:
        if isinstance(values, Validator) and values.is_optional:
            raise ValueError("Records cannot have optional values")
        keys, values = _required(keys, "v.record(...)"), _required(values, "v.record(...)")
        if (error := _record_key_error(keys)) is not None:
            raise ValueError(error)
        check_key, check_value = keys._accepts, values._accepts

        def accepts(value: Value, tables: TableNames | None) -> bool:
            if not isinstance(value, dict):
                return False
            for key, item in value.items():
                if item is UNDEFINED:
                    continue
                if not check_key(key, tables) or not check_value(item, tables):
                    return False
            return True

        super().__init__(accepts)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "values", values)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if not isinstance(value, dict):
            return _no_match(value, self, path)
        for key in _canonical(value):
            message = self.keys._failure(key, f"{path}.keys()", tables)
            if message is None:
                message = self.values._failure(value[key], f"{path}.values()", tables)
            if message is not None:
                return message
        return None

    def describe(self) -> str:
        return f"v.record({self.keys.describe()}, {self.values.describe()})"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "record",
            "keys": self.keys.to_json(),
            "values": {"fieldType": self.values.to_json(), "optional": False},
        }

    def _key(self) -> tuple[Any, ...]:
        return ("record", self.keys, self.values)


def _union_accepts(members: tuple[Validator, ...]) -> Accepts:
    checks = tuple(member._accepts for member in members)

    def accepts(value: Value, tables: TableNames | None) -> bool:
        for check in checks:
            if check(value, tables):
                return True
        return False

    return accepts


class UnionValidator(Validator):
    """``v.union(a, b, ...)``: any member matches. One member behaves as it; none matches nothing."""

    __slots__ = ("members",)
    members: tuple[Validator, ...]

    def __init__(self, members: Iterable[Validator]) -> None:
        frozen = tuple(_required(member, "v.union(...)") for member in members)
        super().__init__(frozen[0]._accepts if len(frozen) == 1 else _union_accepts(frozen))
        object.__setattr__(self, "members", frozen)

    def _failure(self, value: Value, path: str, tables: TableNames | None) -> str | None:
        if len(self.members) == 1:
            return self.members[0]._failure(value, path, tables)
        return None if self._accepts(value, tables) else _no_match(value, self, path)

    def describe(self) -> str:
        return "v.union(" + ", ".join(member.describe() for member in self.members) + ")"

    def to_json(self) -> dict[str, Any]:
        return {"type": "union", "value": [member.to_json() for member in self.members]}

    def _key(self) -> tuple[Any, ...]:
        return ("union", self.members)


# ---------------------------------------------------------------------------------------------
# The `v` namespace
# ---------------------------------------------------------------------------------------------


class _ValidatorBuilders:
    """The ``v`` namespace, spelled as in Convex: ``v.object({"body": v.string()})``."""

    _NULL, _FLOAT64, _INT64 = ScalarValidator("null"), ScalarValidator("float64"), ScalarValidator("int64")
    _BOOLEAN, _STRING = ScalarValidator("boolean"), ScalarValidator("string")
    _BYTES, _ANY = ScalarValidator("bytes"), ScalarValidator("any")

    def string(self) -> ScalarValidator:
        return self._STRING

    def number(self) -> ScalarValidator:
        """Same as ``float64()``: Python floats only, including NaN, ±inf and -0.0; never ints."""
        return self._FLOAT64

    def float64(self) -> ScalarValidator:
        return self._FLOAT64

    def int64(self) -> ScalarValidator:
        """Python ints in the int64 range (never bools)."""
        return self._INT64

    def bigint(self) -> ScalarValidator:
        return self._INT64

    def boolean(self) -> ScalarValidator:
        return self._BOOLEAN

    def null(self) -> ScalarValidator:
        return self._NULL

    def bytes(self) -> ScalarValidator:
        return self._BYTES

    def any(self) -> ScalarValidator:
        return self._ANY

    def id(self, table: str) -> IdValidator:
        return IdValidator(table)

    def literal(self, value: LiteralValue) -> LiteralValidator:
        return LiteralValidator(value)

    def array(self, element: Validator) -> ArrayValidator:
        return ArrayValidator(element)

    def object(self, fields: Mapping[str, Validator]) -> ObjectValidator:
        return ObjectValidator(fields)

    def record(self, keys: Validator, values: Validator) -> RecordValidator:
        return RecordValidator(keys, values)

    def union(self, *members: Validator) -> UnionValidator:
        return UnionValidator(members)

    def optional(self, validator: Validator) -> Validator:
        if not isinstance(validator, Validator):
            raise TypeError(f"v.optional(...) takes a validator, got {validator!r}")
        return validator.as_optional()

    def nullable(self, validator: Validator) -> UnionValidator:
        return UnionValidator((validator, self._NULL))


v: Final = _ValidatorBuilders()


# ---------------------------------------------------------------------------------------------
# Function arguments and return values
# ---------------------------------------------------------------------------------------------


def single_argument(args: list[Any]) -> Any:
    """The one argument of a call whose arguments travel as an array (sync protocol, HTTP API)."""
    if len(args) != 1:
        raise ArgumentValidationError(
            "Expected to receive a single object as the function's argument. "
            f"Instead received {len(args)} arguments: {backend_display(args)}"
        )
    return args[0]


def validate_args(validator: ObjectValidator | None, args: object, tables: TableNames | None) -> dict[str, Any]:
    """Check a call's arguments object; return it without top-level ``UNDEFINED`` fields.

    ``None`` means the function declared no ``args``: any object is accepted. Raises
    ``ArgumentValidationError`` with Convex's message.
    """
    if not isinstance(args, dict):
        raise ArgumentValidationError(
            f"Expected to receive an object as the function's argument. Instead received: {backend_display(args)}"
        )
    if validator is not None and not validator._accepts(args, tables):
        raise ArgumentValidationError(validator._failure(args, "", tables) or _no_match(args, validator, ""))
    if UNDEFINED in args.values():
        return {key: item for key, item in args.items() if item is not UNDEFINED}
    return args


def validate_returns(validator: Validator | None, value: Value, tables: TableNames | None) -> Value:
    """Check a return value (``UNDEFINED`` becomes ``None`` first) and return it.

    Raises ``ReturnsValidationError`` with Convex's message; ``None`` means no ``returns``.
    """
    if value is UNDEFINED:
        value = None
    if validator is not None and not validator._accepts(value, tables):
        raise ReturnsValidationError(validator._failure(value, "", tables) or _no_match(value, validator, ""))
    return value
