"""Audience rules: Opencom's targeting language, validated on write and evaluated for one visitor.

A rule is a condition (``{type: "condition", property: {source, key, eventFilter?}, operator,
value?}``) or an and/or group of conditions and groups, at most two group levels deep (the stored
shape, data-model §0.2). Items that target visitors (tours, tooltips, surveys, outbound messages,
checklists) may instead name a saved segment, ``{segmentId}``, which must belong to the item's
workspace when written and is resolved when evaluated.

Evaluation follows Opencom's semantics exactly (modules §0.1): strict equality without coercion,
case-insensitive string operators that are false for non-strings (``not_contains`` is true),
numeric comparisons only between numbers, and event conditions that count the visitor's events of
one name (optionally within the last N days) and ignore the condition's own operator. Workspace
counts live in ``audience_count``, which evaluates with these same functions.
"""

from typing import Any

from .clock import DAY_MS, now_ms
from .errors import INVALID_INPUT, fail
from .identity import Doc

OPERATORS = frozenset(
    {
        "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "greater_than",
        "less_than", "greater_than_or_equals", "less_than_or_equals", "is_set", "is_not_set",
    }
)  # fmt: skip
SOURCES = frozenset({"system", "custom", "event"})
COUNT_OPERATORS = frozenset({"at_least", "at_most", "exactly"})
MAX_GROUP_DEPTH = 2  # a top group may hold groups, whose entries must be conditions
_MISSING = object()  # JavaScript's ``undefined``: distinct from a stored null

_SYSTEM_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "name": ("name",),
    "firstSeenAt": ("firstSeenAt",),
    "lastSeenAt": ("lastSeenAt",),
    "device": ("device", "deviceType"),
    "browser": ("device", "browser"),
    "os": ("device", "os"),
    "referrer": ("referrer",),
    "country": ("location", "country"),
    "countryCode": ("location", "countryCode"),
    "city": ("location", "city"),
    "region": ("location", "region"),
    "externalUserId": ("externalUserId",),
}


# --- validation ---------------------------------------------------------------------------------
class _Invalid(Exception):
    """A rule refused at ``path`` (a dotted path from the rule's root) for ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)


def _at(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_keys(node: dict, allowed: set[str], path: str) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise _Invalid(path, f"unexpected field {extra[0]!r}")


def _check_event_filter(event_filter: Any, path: str) -> None:
    if not isinstance(event_filter, dict):
        raise _Invalid(path, "eventFilter must be an object")
    _check_keys(event_filter, {"name", "countOperator", "count", "withinDays"}, path)
    if not isinstance(event_filter.get("name"), str) or not event_filter["name"]:
        raise _Invalid(_at(path, "name"), "must be a non-empty string")
    if "countOperator" in event_filter and event_filter["countOperator"] not in COUNT_OPERATORS:
        raise _Invalid(_at(path, "countOperator"), f"must be one of {sorted(COUNT_OPERATORS)}")
    for field in ("count", "withinDays"):
        if field in event_filter and (not _is_number(event_filter[field]) or event_filter[field] < 0):
            raise _Invalid(_at(path, field), "must be a non-negative number")


def _check_condition(node: dict, path: str) -> None:
    _check_keys(node, {"type", "property", "operator", "value"}, path)
    prop = node.get("property")
    if not isinstance(prop, dict):
        raise _Invalid(_at(path, "property"), "must be an object")
    _check_keys(prop, {"source", "key", "eventFilter"}, _at(path, "property"))
    if prop.get("source") not in SOURCES:
        raise _Invalid(_at(path, "property.source"), f"must be one of {sorted(SOURCES)}")
    if not isinstance(prop.get("key"), str):
        raise _Invalid(_at(path, "property.key"), "must be a string")
    if "eventFilter" in prop:
        _check_event_filter(prop["eventFilter"], _at(path, "property.eventFilter"))
    if node.get("operator") not in OPERATORS:
        raise _Invalid(_at(path, "operator"), f"must be one of {sorted(OPERATORS)}")
    if "value" in node and not isinstance(node["value"], (str, bool, int, float)):
        raise _Invalid(_at(path, "value"), "must be a string, number or boolean")


def _check_rule(node: Any, path: str, depth: int) -> None:
    if not isinstance(node, dict):
        raise _Invalid(path, "must be an object")
    kind = node.get("type")
    if kind == "condition":
        _check_condition(node, path)
        return
    if kind != "group":
        raise _Invalid(_at(path, "type"), 'must be "condition" or "group"')
    if depth >= MAX_GROUP_DEPTH:
        raise _Invalid(path, f"groups may nest at most {MAX_GROUP_DEPTH} levels deep")
    _check_keys(node, {"type", "operator", "conditions"}, path)
    if node.get("operator") not in ("and", "or"):
        raise _Invalid(_at(path, "operator"), 'must be "and" or "or"')
    conditions = node.get("conditions")
    if not isinstance(conditions, list):
        raise _Invalid(_at(path, "conditions"), "must be an array")
    prefix = _at(path, "conditions")
    for index, child in enumerate(conditions):
        _check_rule(child, f"{prefix}[{index}]", depth + 1)


def validate_rules(rules: Any, what: str = "audience rules") -> dict:
    """``rules`` if it is a well-formed inline rule; an INVALID_INPUT error naming the bad part otherwise."""
    try:
        _check_rule(rules, "", 0)
    except _Invalid as error:
        fail(INVALID_INPUT, f"Invalid {what}: {error}")
    return rules


def segment_reference(rules: Any) -> str | None:
    """The segment id a ``{segmentId}`` reference names, or None for inline rules."""
    if isinstance(rules, dict) and "segmentId" in rules:
        return rules["segmentId"]
    return None


async def validate_targeting(ctx: Any, workspace_id: str, rules: Any, what: str = "audience rules") -> dict:
    """Inline rules (validated) or a reference to a segment of ``workspace_id``; INVALID_INPUT otherwise."""
    if not (isinstance(rules, dict) and "segmentId" in rules):
        return validate_rules(rules, what)
    if set(rules) != {"segmentId"} or not isinstance(rules["segmentId"], str):
        fail(INVALID_INPUT, f"Invalid {what}: a segment reference is exactly {{segmentId}}")
    segment_id = ctx.db.normalize_id("segments", rules["segmentId"])
    segment = await ctx.db.get(segment_id) if segment_id else None
    if segment is None or segment["workspaceId"] != workspace_id:
        fail(INVALID_INPUT, f"Invalid {what}: segment not found in this workspace")
    return {"segmentId": segment_id}


# --- evaluation ---------------------------------------------------------------------------------
def system_value(visitor: Doc, key: str) -> Any:
    """A visitor's built-in property (``email``, ``country``, ``device``, ...); ``_MISSING`` for others."""
    value: Any = visitor
    for field in _SYSTEM_FIELDS.get(key, ()):
        value = value.get(field, _MISSING) if isinstance(value, dict) else _MISSING
    return _MISSING if value is visitor else value


def _strict_equal(actual: Any, expected: Any) -> bool:
    """JavaScript's ``===`` on stored values: no coercion, and arrays/objects equal nothing."""
    if actual is _MISSING or expected is _MISSING:
        return actual is expected
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if _is_number(actual) and _is_number(expected):
        return actual == expected
    if isinstance(actual, str) and isinstance(expected, str):
        return actual == expected
    return actual is None and expected is None


def compare(operator: str, actual: Any, expected: Any) -> bool:
    """Apply one condition operator to a visitor's value (``_MISSING`` when absent) and the rule's value."""
    if operator == "is_set":
        return actual is not _MISSING and actual is not None and actual != ""
    if operator == "is_not_set":
        return actual is _MISSING or actual is None or actual == ""
    if operator == "equals":
        return _strict_equal(actual, expected)
    if operator == "not_equals":
        return not _strict_equal(actual, expected)
    if operator in ("contains", "not_contains", "starts_with", "ends_with"):
        if not (isinstance(actual, str) and isinstance(expected, str)):
            return operator == "not_contains"
        haystack, needle = actual.lower(), expected.lower()
        if operator == "contains":
            return needle in haystack
        if operator == "not_contains":
            return needle not in haystack
        return haystack.startswith(needle) if operator == "starts_with" else haystack.endswith(needle)
    if not (_is_number(actual) and _is_number(expected)):
        return False
    if operator == "greater_than":
        return actual > expected
    if operator == "less_than":
        return actual < expected
    if operator == "greater_than_or_equals":
        return actual >= expected
    if operator == "less_than_or_equals":
        return actual <= expected
    return False


def event_count_matches(count: int, event_filter: dict) -> bool:
    """Whether a visitor with ``count`` matching events satisfies the filter's count operator."""
    target = event_filter.get("count", 1)
    operator = event_filter.get("countOperator")
    if operator == "at_most":
        return count <= target
    if operator == "exactly":
        return count == target
    return count >= target


def event_cutoff(event_filter: dict, now: float) -> float | None:
    """The earliest event timestamp a ``withinDays`` filter counts, or None for all time."""
    days = event_filter.get("withinDays")
    return None if days is None else now - days * DAY_MS


async def count_visitor_events(ctx: Any, visitor_id: str, event_filter: dict, now: float) -> int:
    """How many of the visitor's events the filter's name and time window select."""
    cutoff = event_cutoff(event_filter, now)
    events = ctx.db.query("events").with_index(
        "by_visitor_name", lambda q: q.eq("visitorId", visitor_id).eq("name", event_filter["name"])
    )
    return len([1 async for event in events if cutoff is None or event["timestamp"] >= cutoff])


class Evaluation:
    """One visitor's evaluation: event counts are read once per (name, window) however often they appear."""

    def __init__(self, ctx: Any, visitor: Doc, now: float) -> None:
        self.ctx = ctx
        self.visitor = visitor
        self.now = now
        self._counts: dict[tuple[str, Any], int] = {}

    async def _event_count(self, event_filter: dict) -> int:
        key = (event_filter["name"], event_filter.get("withinDays"))
        if key not in self._counts:
            self._counts[key] = await count_visitor_events(self.ctx, self.visitor["_id"], event_filter, self.now)
        return self._counts[key]

    async def condition(self, condition: dict) -> bool:
        prop = condition["property"]
        if prop["source"] == "event":
            event_filter = prop.get("eventFilter")
            return event_filter is not None and event_count_matches(await self._event_count(event_filter), event_filter)
        if prop["source"] == "system":
            actual = system_value(self.visitor, prop["key"])
        else:
            actual = (self.visitor.get("customAttributes") or {}).get(prop["key"], _MISSING)
        return compare(condition["operator"], actual, condition.get("value", _MISSING))

    async def rule(self, rule: dict) -> bool:
        if rule["type"] == "condition":
            return await self.condition(rule)
        if rule["operator"] == "and":
            for child in rule["conditions"]:
                if not await self.rule(child):
                    return False
            return True
        if not rule["conditions"]:
            return True
        for child in rule["conditions"]:
            if await self.rule(child):
                return True
        return False


async def resolve_targeting(ctx: Any, targeting: dict | None) -> tuple[bool, dict | None]:
    """``(found, inline rules)`` for stored targeting; a vanished segment is ``(False, None)``."""
    segment_id = segment_reference(targeting)
    if segment_id is None:
        return True, targeting
    segment = await ctx.db.get(segment_id)
    return (segment is not None), (segment["audienceRules"] if segment else None)


class Audience:
    """One visitor's eligibility across many items in one function call.

    Event counts and segment verdicts are computed once per call, so checking a hundred items
    that target the same segment costs one evaluation. A reference to a segment that no longer
    exists matches nobody: an item aimed at an audience is never widened to everyone by a deletion.
    """

    def __init__(self, ctx: Any, visitor: Doc, now: float | None = None) -> None:
        self.ctx = ctx
        self.evaluation = Evaluation(ctx, visitor, now_ms() if now is None else now)
        self._segments: dict[str, bool] = {}

    async def matches(self, targeting: dict | None) -> bool:
        """Whether the visitor matches an item's stored targeting (inline rules or a segment reference)."""
        segment_id = segment_reference(targeting)
        if segment_id is None:
            return not targeting or await self.evaluation.rule(targeting)
        if segment_id not in self._segments:
            found, rules = await resolve_targeting(self.ctx, targeting)
            self._segments[segment_id] = found and (not rules or await self.evaluation.rule(rules))
        return self._segments[segment_id]
