"""Counting a workspace's visitors who match an audience rule, reading indexes instead of every visitor.

The count is ``{total, matching}``. ``matching`` comes from a candidate set the rule's indexable
parts select — a superset of the matches — each candidate then evaluated with ``audience``'s
one-visitor evaluation, so a count can never disagree with eligibility. Indexable parts:

* ``email`` / ``externalUserId`` equals a string: a point read of ``visitors.by_email`` /
  ``by_external_user_id``;
* ``lastSeenAt`` compared with a number: a range of ``visitors.by_workspace_last_seen``;
* an event condition that needs at least one event (``at_least``/``exactly`` n >= 1): the visitors
  of ``events.by_workspace_name_time`` within the condition's time window.

An ``and`` group uses its first indexable member (the cheapest kind first); an ``or`` group is
indexable when every member is. A rule no index answers, or whose candidates are more than one
function may read, is evaluated over the newest ``SAMPLE_LIMIT`` visitors, exact when they are
all the workspace's visitors and otherwise extrapolated (``estimated: true``). The total comes
from ``visitor_census``.
"""

import math
from typing import Any

from .audience import Evaluation, event_cutoff, resolve_targeting, validate_targeting
from .clock import now_ms
from .identity import Doc
from .visitor_census import visitor_total

SAMPLE_LIMIT = 5_000  # visitors one count evaluates (each may read its events); beyond, it estimates

_RANGE_OPERATORS = {"greater_than": "gt", "greater_than_or_equals": "gte", "less_than": "lt", "less_than_or_equals": "lte"}
_POINT_INDEXES = {"email": "by_email", "externalUserId": "by_external_user_id"}


class _Candidates:
    """Where a rule's candidates come from: a visitor-id source and a rank (lower is cheaper)."""

    def __init__(self, rank: int, read: Any) -> None:
        self.rank = rank
        self.read = read  # async () -> set of visitor ids, or None when too many to read


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _condition_source(ctx: Any, workspace_id: str, condition: dict, now: float) -> _Candidates | None:
    prop, operator, value = condition["property"], condition["operator"], condition.get("value")
    if prop["source"] == "system" and prop["key"] in _POINT_INDEXES and operator == "equals" and isinstance(value, str):
        index = _POINT_INDEXES[prop["key"]]

        async def point() -> set[str]:
            rows = ctx.db.query("visitors").with_index(
                index, lambda q: q.eq("workspaceId", workspace_id).eq(prop["key"], value)
            )
            return _ids(await rows.take(SAMPLE_LIMIT + 1), "_id")

        return _Candidates(0, point)
    if prop["source"] == "system" and prop["key"] == "lastSeenAt" and operator in _RANGE_OPERATORS and _is_number(value):
        bound = _RANGE_OPERATORS[operator]

        async def seen() -> set[str]:
            rows = ctx.db.query("visitors").with_index(
                "by_workspace_last_seen", lambda q: getattr(q.eq("workspaceId", workspace_id), bound)("lastSeenAt", value)
            )
            return _ids(await rows.take(SAMPLE_LIMIT + 1), "_id")

        return _Candidates(2, seen)
    event_filter = prop.get("eventFilter")
    if prop["source"] == "event" and event_filter is not None and _needs_an_event(event_filter):
        cutoff = event_cutoff(event_filter, now)

        async def did() -> set[str]:
            def window(q: Any) -> Any:
                q = q.eq("workspaceId", workspace_id).eq("name", event_filter["name"])
                return q if cutoff is None else q.gte("timestamp", cutoff)

            events = ctx.db.query("events").with_index("by_workspace_name_time", window)
            return _ids(await events.take(SAMPLE_LIMIT + 1), "visitorId")

        return _Candidates(1, did)
    return None


def _ids(rows: list[Doc], field: str) -> set[str] | None:
    """The visitor ids of candidate rows, or None when there were more rows than a count may read."""
    return None if len(rows) > SAMPLE_LIMIT else {row[field] for row in rows}


def _needs_an_event(event_filter: dict) -> bool:
    target = event_filter.get("count", 1)
    return event_filter.get("countOperator") in (None, "at_least", "exactly") and target > 0


def _source(ctx: Any, workspace_id: str, rule: dict, now: float) -> _Candidates | None:
    if rule["type"] == "condition":
        return _condition_source(ctx, workspace_id, rule, now)
    members = [_source(ctx, workspace_id, child, now) for child in rule["conditions"]]
    if rule["operator"] == "and":
        usable = sorted((member for member in members if member is not None), key=lambda member: member.rank)
        if not usable:
            return None

        async def narrowest() -> set[str] | None:
            for member in usable:  # the first member whose candidates fit in a count
                found = await member.read()
                if found is not None:
                    return found
            return None

        return _Candidates(usable[0].rank, narrowest)
    if not members or any(member is None for member in members):
        return None

    async def union() -> set[str] | None:
        found: set[str] = set()
        for member in members:
            part = await member.read()
            if part is None:
                return None
            found |= part
        return found

    return _Candidates(max(member.rank for member in members), union)


async def _evaluate(ctx: Any, workspace_id: str, rules: dict, visitors: list[Doc | None], now: float) -> int:
    matched = 0
    for visitor in visitors:
        if visitor is not None and visitor["workspaceId"] == workspace_id:
            matched += await Evaluation(ctx, visitor, now).rule(rules)
    return matched


async def count_matching(ctx: Any, workspace_id: str, rules: dict | None) -> dict[str, Any]:
    """``{total, matching}`` for inline ``rules`` over the workspace's visitors (no rule matches all).

    Exact when the rule's candidates (or, for rules no index answers, the whole workspace) fit in
    ``SAMPLE_LIMIT`` visitors; otherwise ``matching`` is extrapolated from the newest
    ``SAMPLE_LIMIT`` visitors and the answer carries ``estimated: true``.
    """
    now = now_ms()
    total, exact_total = await visitor_total(ctx, workspace_id)
    if not rules:
        return _answer(total, total, exact_total)
    source = _source(ctx, workspace_id, rules, now)
    candidates = await source.read() if source is not None else None
    if candidates is not None:
        visitors = [await ctx.db.get(visitor_id) for visitor_id in sorted(candidates)]
        return _answer(total, await _evaluate(ctx, workspace_id, rules, visitors, now), exact_total)
    newest = ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
    sample = await newest.order("desc").take(SAMPLE_LIMIT)
    matched = await _evaluate(ctx, workspace_id, rules, sample, now)
    if exact_total and len(sample) >= total:
        return _answer(total, matched, True)
    return _answer(total, math.floor(matched * total / len(sample) + 0.5) if sample else 0, False)


def _answer(total: int, matching: int, exact: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {"total": float(total), "matching": float(matching)}
    if not exact:
        answer["estimated"] = True
    return answer


async def preview_targeting(ctx: Any, workspace_id: str, targeting: Any) -> dict[str, float]:
    """``{total, matching}`` for targeting an agent is editing: inline rules or a segment (validated first)."""
    rules = await validate_targeting(ctx, workspace_id, targeting) if targeting is not None else None
    _, inline = await resolve_targeting(ctx, rules)
    return await count_matching(ctx, workspace_id, inline)
