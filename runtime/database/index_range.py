"""``with_index`` range expressions: the builder, its rules, and the byte interval they select.

The rules are the real backend's (convex-semantics §3.8.1): any set of ``eq``s plus at most one
lower and one upper bound on one field, which together name a prefix of the index fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.database.read_set import Interval
from runtime.store.catalog import IndexInfo
from runtime.values.errors import ConvexValueError
from runtime.values.keys import encode_key
from runtime.values.values import UNDEFINED, Value, backend_display, check_value

_SYMBOLS = {"eq": "==", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_INDEX_DOCS = "https://docs.convex.dev/using/indexes"


@dataclass(frozen=True, slots=True)
class RangeExpression:
    op: str
    field: str
    value: Value


class IndexRangeBuilder:
    """The ``q`` of ``with_index(name, lambda q: q.eq(...).gt(...))``; collects expressions."""

    def __init__(self) -> None:
        self.expressions: list[RangeExpression] = []
        self._used = False

    def _add(self, op: str, field: str, value: Any) -> IndexRangeBuilder:
        if self._used:
            raise ConvexValueError(
                "IndexRangeBuilder has already been used! Chain your method calls like `q => q.eq(...).eq(...)`. "
                f"See {_INDEX_DOCS}"
            )
        if value is not UNDEFINED:
            check_value(value)
        self._used = True
        successor = IndexRangeBuilder()
        successor.expressions = [*self.expressions, RangeExpression(op, field, value)]
        return successor

    def eq(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("eq", field, value)

    def gt(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("gt", field, value)

    def gte(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("gte", field, value)

    def lt(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("lt", field, value)

    def lte(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("lte", field, value)


def _quoted(fields: tuple[str, ...] | list[str]) -> str:
    """Field paths as the backend lists them: ``["a", "b"]``."""
    return "[" + ", ".join(f'"{field}"' for field in fields) + "]"


def _bound_error(kind: str, field: str, symbol: str, value: Value) -> ConvexValueError:
    return ConvexValueError(f'Already defined {kind} bound in index range. Can\'t add "{field}" {symbol} {backend_display(value)}.')


def compile_range(index: IndexInfo, expressions: list[RangeExpression]) -> Interval:
    """The byte interval of ``index`` that the expressions select, or Convex's error.

    The checks run in the backend's order, so the same mistake gets the same message: first the
    expressions among themselves (bounds), then against the index (fields, then their order).
    """
    fields = index.key_fields
    # The fields the backend lists in its messages: the declared ones and ``_creationTime``, not ``_id``.
    listed = fields[:-1]
    equalities: dict[str, RangeExpression] = {}
    lower: RangeExpression | None = None
    upper: RangeExpression | None = None
    for expression in expressions:
        if expression.op == "eq":
            if expression.field in equalities:
                # The backend names the value already there, not the one being added.
                raise _bound_error("equality", expression.field, "==", equalities[expression.field].value)
            equalities[expression.field] = expression
            continue
        is_lower = expression.op in ("gt", "gte")
        if (lower if is_lower else upper) is not None:
            raise _bound_error("lower" if is_lower else "upper", expression.field, _SYMBOLS[expression.op], expression.value)
        other = upper if is_lower else lower
        if other is not None and other.field != expression.field:
            raise ConvexValueError(
                "Upper and lower bounds in `range` can only be applied to a single index field. This query against "
                f'index {index.table_name}.{index.name} attempted to set a range bound on both "{other.field}" and '
                f'"{expression.field}". Consider using `filter` instead. See {_INDEX_DOCS} for more info.'
            )
        if is_lower:
            lower = expression
        else:
            upper = expression
    bounded = (lower or upper).field if (lower or upper) else None
    if bounded is not None and bounded in equalities:
        raise _bound_error("inequality", bounded, "==", equalities[bounded].value)
    for field in [*sorted(equalities), *([bounded] if bounded is not None else [])]:
        if field not in fields:
            raise ConvexValueError(
                f'The index range included a comparison with "{field}", but '
                f"{index.table_name}.{index.name} with fields {_quoted(listed)} doesn't index this field. "
                f"For more information see {_INDEX_DOCS}."
            )
    used = sorted(equalities, key=fields.index)
    if bounded is not None:
        used.append(bounded)
    if tuple(used) != fields[: len(used)]:
        first_wrong = next(field for position, field in enumerate(used) if fields[position] != field)
        raise ConvexValueError(
            f"Tried to query index {index.table_name}.{index.name} but the query didn't use the index fields in order.\n"
            f"Index fields: {_quoted(listed)}\nQuery fields: {_quoted(used)}\nFirst incorrect field: \"{first_wrong}\"\n"
            f"For more information see {_INDEX_DOCS}."
        )
    prefix_values = [equalities[field].value for field in sorted(equalities, key=fields.index)]
    prefix = encode_key(prefix_values)
    low = prefix
    high = _past_values(prefix) if prefix else None
    if lower is not None:
        bound = encode_key([*prefix_values, lower.value])
        low = bound if lower.op == "gte" else _past_values(bound)
    if upper is not None:
        bound = encode_key([*prefix_values, upper.value])
        high = bound if upper.op == "lt" else _past_values(bound)
    return Interval(low, high)


def _past_values(encoded: bytes) -> bytes:
    """Just past every key whose leading values are exactly the ones ``encoded`` holds.

    Such keys continue with the tag byte of the next key part, always below 0xff. The byte-wise
    successor of ``encoded`` would be too far: a longer string or bytes value continues with an
    escaped NUL (``0x00 0xff``), so ``"a\x00"`` starts with the bytes of ``"a"`` but is another value.
    """
    return encoded + b"\xff"
