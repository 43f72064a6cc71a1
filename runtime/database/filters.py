"""The ``q`` expression language of ``.filter(...)``: build, count, serialise and evaluate.

Comparisons use Convex's total order (they never fail: a string is greater than any number and a
missing field is smaller than everything); arithmetic is typed (int64 with int64, float64 with
float64) and reports Convex-style errors; boolean operators demand booleans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from runtime.store.catalog import field_value
from runtime.values.errors import ConvexValueError
from runtime.values.values import (
    INT64_MAX,
    INT64_MIN,
    UNDEFINED,
    Value,
    check_value,
    compare_values,
    display,
    to_json,
    type_name,
)


class Expression:
    """A node of a filter expression. ``evaluate`` gives its value for one document."""

    operators = 0

    def evaluate(self, document: dict[str, Value]) -> Value:
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError


class Literal(Expression):
    def __init__(self, value: Value) -> None:
        if value is not UNDEFINED:
            check_value(value)
        self.value = value

    def evaluate(self, document: dict[str, Value]) -> Value:
        return self.value

    def to_json(self) -> Any:
        return {"$undefined": None} if self.value is UNDEFINED else {"$literal": to_json(self.value)}


class Field(Expression):
    def __init__(self, path: str) -> None:
        if not isinstance(path, str):
            raise ConvexValueError(f"q.field() takes a field path string, got {display(path)}")
        self.path = path

    def evaluate(self, document: dict[str, Value]) -> Value:
        return field_value(document, self.path)

    def to_json(self) -> Any:
        return {"$field": self.path}


def _operand(value: Any) -> Expression:
    return value if isinstance(value, Expression) else Literal(value)


class Operator(Expression):
    """An operator applied to operand expressions."""

    def __init__(self, name: str, function: Callable[..., Value], *operands: Any) -> None:
        self.name = name
        self.function = function
        self.operands = [_operand(operand) for operand in operands]
        self.operators = 1 + sum(operand.operators for operand in self.operands)

    def evaluate(self, document: dict[str, Value]) -> Value:
        return self.function(*(operand.evaluate(document) for operand in self.operands))

    def to_json(self) -> Any:
        rendered = [operand.to_json() for operand in self.operands]
        return {f"${self.name}": rendered[0] if len(rendered) == 1 else rendered}


class _ShortCircuit(Expression):
    def __init__(self, name: str, operands: tuple[Any, ...]) -> None:
        self.name = name
        self.operands = [_operand(operand) for operand in operands]
        self.operators = 1 + sum(operand.operators for operand in self.operands)

    def evaluate(self, document: dict[str, Value]) -> Value:
        stop = self.name == "or"
        for operand in self.operands:
            if as_boolean(operand.evaluate(document)) is stop:
                return stop
        return not stop

    def to_json(self) -> Any:
        return {f"${self.name}": [operand.to_json() for operand in self.operands]}


def as_boolean(value: Value) -> bool:
    """A filter's boolean, or Convex's error for anything that is not one."""
    if value is True or value is False:
        return value
    raise ConvexValueError(f"Cannot use value {display(value)} (type {type_name(value)}) as a Boolean")


def _numeric_pair(verb: str, left: Value, right: Value, preposition: str) -> bool:
    """True for an int64 pair, False for a float64 pair; an error for anything else."""
    left_int = isinstance(left, int) and not isinstance(left, bool)
    right_int = isinstance(right, int) and not isinstance(right, bool)
    if left_int and right_int:
        return True
    if isinstance(left, float) and isinstance(right, float):
        return False
    raise ConvexValueError(
        f"Cannot {verb} {display(left)} (type {type_name(left)}) {preposition} {display(right)} (type {type_name(right)})"
    )


def _int64(result: int, verb: str, left: Value, right: Value) -> int:
    if not INT64_MIN <= result <= INT64_MAX:
        raise ConvexValueError(f"Cannot {verb} {display(left)} and {display(right)}: the result is out of range for Int64")
    return result


def _add(left: Value, right: Value) -> Value:
    if _numeric_pair("add", left, right, "and"):
        return _int64(left + right, "add", left, right)
    return left + right


def _sub(left: Value, right: Value) -> Value:
    if _numeric_pair("subtract", left, right, "from"):
        return _int64(left - right, "subtract", left, right)
    return left - right


def _mul(left: Value, right: Value) -> Value:
    if _numeric_pair("multiply", left, right, "and"):
        return _int64(left * right, "multiply", left, right)
    return left * right


def _div(left: Value, right: Value) -> Value:
    if _numeric_pair("divide", left, right, "by"):
        if right == 0:
            raise ConvexValueError(f"Cannot divide {display(left)} by zero")
        quotient = abs(left) // abs(right)
        return _int64(quotient if (left >= 0) == (right >= 0) else -quotient, "divide", left, right)
    if right == 0.0:
        if left == 0.0 or math.isnan(left):
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)
    return left / right


def _mod(left: Value, right: Value) -> Value:
    if _numeric_pair("take the remainder of", left, right, "by"):
        if right == 0:
            raise ConvexValueError(f"Cannot divide {display(left)} by zero")
        remainder = abs(left) % abs(right)
        return remainder if left >= 0 else -remainder
    if right == 0.0 or math.isinf(left):
        return math.nan
    return math.fmod(left, right)


def _neg(value: Value) -> Value:
    if isinstance(value, int) and not isinstance(value, bool):
        if value == INT64_MIN:
            raise ConvexValueError(f"Cannot negate {display(value)}: the result is out of range for Int64")
        return -value
    if isinstance(value, float):
        return -value
    raise ConvexValueError(f"Cannot negate {display(value)} (type {type_name(value)})")


class FilterBuilder:
    """The ``q`` passed to ``.filter(lambda q: ...)``; Python names for and/or/not end in ``_``."""

    def field(self, path: str) -> Expression:
        return Field(path)

    def eq(self, left: Any, right: Any) -> Expression:
        return Operator("eq", lambda a, b: compare_values(a, b) == 0, left, right)

    def neq(self, left: Any, right: Any) -> Expression:
        return Operator("neq", lambda a, b: compare_values(a, b) != 0, left, right)

    def lt(self, left: Any, right: Any) -> Expression:
        return Operator("lt", lambda a, b: compare_values(a, b) < 0, left, right)

    def lte(self, left: Any, right: Any) -> Expression:
        return Operator("lte", lambda a, b: compare_values(a, b) <= 0, left, right)

    def gt(self, left: Any, right: Any) -> Expression:
        return Operator("gt", lambda a, b: compare_values(a, b) > 0, left, right)

    def gte(self, left: Any, right: Any) -> Expression:
        return Operator("gte", lambda a, b: compare_values(a, b) >= 0, left, right)

    def add(self, left: Any, right: Any) -> Expression:
        return Operator("add", _add, left, right)

    def sub(self, left: Any, right: Any) -> Expression:
        return Operator("sub", _sub, left, right)

    def mul(self, left: Any, right: Any) -> Expression:
        return Operator("mul", _mul, left, right)

    def div(self, left: Any, right: Any) -> Expression:
        return Operator("div", _div, left, right)

    def mod(self, left: Any, right: Any) -> Expression:
        return Operator("mod", _mod, left, right)

    def neg(self, value: Any) -> Expression:
        return Operator("neg", _neg, value)

    def and_(self, *operands: Any) -> Expression:
        return _ShortCircuit("and", operands)

    def or_(self, *operands: Any) -> Expression:
        return _ShortCircuit("or", operands)

    def not_(self, operand: Any) -> Expression:
        return Operator("not", lambda value: not as_boolean(value), operand)


def build_filter(predicate: Callable[[FilterBuilder], Any]) -> Expression:
    """Run a ``lambda q: ...`` against the builder and return the expression it built."""
    if not callable(predicate):
        raise ConvexValueError("filter() takes a function of the filter builder, like `lambda q: q.eq(...)`")
    return _operand(predicate(FilterBuilder()))
