"""Hypothesis strategies for audience rules and the visitors/events they are evaluated against.

Keys, names and values come from small pools so that random rules often match random visitors.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

EMAILS = ("ann@example.com", "bob@example.com", "ANN@example.com")
EVENT_NAMES = ("signup", "purchase")
CUSTOM_KEYS = ("plan", "score", "beta")
SYSTEM_KEYS = ("email", "externalUserId", "lastSeenAt", "name", "country", "device", "nope")
OPERATORS = (
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "greater_than",
    "less_than", "greater_than_or_equals", "less_than_or_equals", "is_set", "is_not_set",
)  # fmt: skip
NOW_OFFSET_DAYS = (0.0, 0.5, 3.0, 10.0)  # how long ago an event happened

scalar = st.one_of(
    st.sampled_from(("pro", "free", "", "Pro", "ann", "example.com", "u-1", "u-2", "FR") + EMAILS),
    st.sampled_from((0.0, 1.0, 5.0, 10.0, 1_000.0, -2.5)),
    st.booleans(),
)
stored = st.one_of(scalar, st.none(), st.lists(st.sampled_from(("a", "b")), max_size=2))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    source = draw(st.sampled_from(("system", "custom", "event")))
    condition: dict[str, Any] = {"type": "condition", "operator": draw(st.sampled_from(OPERATORS))}
    if source == "event":
        event_filter: dict[str, Any] = {"name": draw(st.sampled_from(EVENT_NAMES))}
        for field, values in (
            ("countOperator", st.sampled_from(("at_least", "at_most", "exactly"))),
            ("count", st.sampled_from((0.0, 1.0, 2.0, 3.0))),
            ("withinDays", st.sampled_from((1.0, 7.0))),
        ):
            if draw(st.booleans()):
                event_filter[field] = draw(values)
        condition["property"] = {"source": "event", "key": "count"}
        if draw(st.integers(0, 9)):
            condition["property"]["eventFilter"] = event_filter
    else:
        keys = SYSTEM_KEYS if source == "system" else CUSTOM_KEYS
        condition["property"] = {"source": source, "key": draw(st.sampled_from(keys))}
    if draw(st.booleans()):
        condition["value"] = draw(scalar)
    return condition


def groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda operator, members: {"type": "group", "operator": operator, "conditions": members},
        st.sampled_from(("and", "or")),
        st.lists(children, max_size=3),
    )


rules = st.one_of(conditions(), groups(conditions()), groups(st.one_of(conditions(), groups(conditions()))))


@st.composite
def visitors(draw: st.DrawFn) -> dict[str, Any]:
    visitor: dict[str, Any] = {}
    for field, values in (
        ("email", st.sampled_from(EMAILS)),
        ("externalUserId", st.sampled_from(("u-1", "u-2"))),
        ("name", st.sampled_from(("Ann", "Bob", ""))),
        ("lastSeenAt", st.sampled_from((0.0, 5.0, 10.0, 1_000.0))),
        ("location", st.fixed_dictionaries({}, optional={"country": st.sampled_from(("FR", "fr", ""))})),
        ("device", st.fixed_dictionaries({}, optional={"deviceType": st.sampled_from(("mobile", "desktop"))})),
        ("customAttributes", st.dictionaries(st.sampled_from(CUSTOM_KEYS), stored, max_size=3)),
    ):
        if draw(st.booleans()):
            visitor[field] = draw(values)
    visitor["events"] = draw(
        st.lists(st.tuples(st.sampled_from(EVENT_NAMES), st.sampled_from(NOW_OFFSET_DAYS)), max_size=4)
    )
    return visitor


@st.composite
def invalid_rules(draw: st.DrawFn) -> Any:
    """A rule that is wrong in exactly one place (or not a rule at all)."""
    condition = draw(conditions())
    breakage = draw(st.sampled_from(("operator", "source", "key", "type", "depth", "value", "extra", "shape", "filter")))
    if breakage == "operator":
        condition["operator"] = draw(st.sampled_from(("eq", "", "EQUALS")))
    elif breakage == "source":
        condition["property"]["source"] = "cookie"
    elif breakage == "key":
        condition["property"]["key"] = 7.0
    elif breakage == "type":
        condition["type"] = "rule"
    elif breakage == "depth":
        inner = {"type": "group", "operator": "and", "conditions": [condition]}
        return {"type": "group", "operator": "or", "conditions": [{"type": "group", "operator": "and", "conditions": [inner]}]}
    elif breakage == "value":
        condition["value"] = draw(st.sampled_from(([1.0], {"a": 1.0}, None)))
    elif breakage == "extra":
        condition["weight"] = 1.0
    elif breakage == "filter":
        condition["property"] = {"source": "event", "key": "x", "eventFilter": {"name": "", "count": -1.0}}
    else:
        return draw(st.sampled_from(("everyone", [], {}, {"type": "group", "operator": "xor", "conditions": []})))
    return condition
