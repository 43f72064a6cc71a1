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
indexable when every member is. Anything else falls back to the workspace's visitors.
"""

from collections.abc import AsyncIterator
from typing import Any

from .audience import Evaluation, event_cutoff, resolve_targeting, validate_targeting
from .clock import now_ms
from .identity import Doc

_RANGE_OPERATORS = {"greater_than": "gt", "greater_than_or_equals": "gte", "less_than": "lt", "less_than_or_equals": "lte"}
_POINT_INDEXES = {"email": "by_email", "externalUserId": "by_external_user_id"}


class _Candidates:
    """Where a rule's candidates come from: a visitor-id source and a rank (lower is cheaper)."""

    def __init__(self, rank: int, read: Any) -> None:
        self.rank = rank
        self.read = read  # async () -> set of visitor ids


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
            return {row["_id"] async for row in rows}

        return _Candidates(0, point)
    if prop["source"] == "system" and prop["key"] == "lastSeenAt" and operator in _RANGE_OPERATORS and _is_number(value):
        bound = _RANGE_OPERATORS[operator]

        async def seen() -> set[str]:
            rows = ctx.db.query("visitors").with_index(
                "by_workspace_last_seen", lambda q: getattr(q.eq("workspaceId", workspace_id), bound)("lastSeenAt", value)
            )
            return {row["_id"] async for row in rows}

        return _Candidates(2, seen)
    event_filter = prop.get("eventFilter")
    if prop["source"] == "event" and event_filter is not None and _needs_an_event(event_filter):
        cutoff = event_cutoff(event_filter, now)

        async def did() -> set[str]:
            def window(q: Any) -> Any:
                q = q.eq("workspaceId", workspace_id).eq("name", event_filter["name"])
                return q if cutoff is None else q.gte("timestamp", cutoff)

            return {row["visitorId"] async for row in ctx.db.query("events").with_index("by_workspace_name_time", window)}

        return _Candidates(1, did)
    return None


def _needs_an_event(event_filter: dict) -> bool:
    target = event_filter.get("count", 1)
    return event_filter.get("countOperator") in (None, "at_least", "exactly") and target > 0


def _source(ctx: Any, workspace_id: str, rule: dict, now: float) -> _Candidates | None:
    if rule["type"] == "condition":
        return _condition_source(ctx, workspace_id, rule, now)
    members = [_source(ctx, workspace_id, child, now) for child in rule["conditions"]]
    if rule["operator"] == "and":
        usable = [member for member in members if member is not None]
        return min(usable, key=lambda member: member.rank) if usable else None
    if not members or any(member is None for member in members):
        return None

    async def union() -> set[str]:
        found: set[str] = set()
        for member in members:
            found |= await member.read()
        return found

    return _Candidates(max(member.rank for member in members), union)


async def _workspace_visitors(ctx: Any, workspace_id: str) -> AsyncIterator[Doc]:
    async for visitor in ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)):
        yield visitor


async def total_visitors(ctx: Any, workspace_id: str) -> int:
    """How many visitors the workspace has."""
    return len([1 async for _ in _workspace_visitors(ctx, workspace_id)])


async def count_matching(ctx: Any, workspace_id: str, rules: dict | None) -> dict[str, float]:
    """``{total, matching}`` for inline ``rules`` over the workspace's visitors (no rule matches all)."""
    now = now_ms()
    total = await total_visitors(ctx, workspace_id)
    if not rules:
        return {"total": float(total), "matching": float(total)}
    source = _source(ctx, workspace_id, rules, now)
    matching = 0
    if source is None:
        async for visitor in _workspace_visitors(ctx, workspace_id):
            matching += await Evaluation(ctx, visitor, now).rule(rules)
    else:
        for visitor_id in sorted(await source.read()):
            visitor = await ctx.db.get(visitor_id)
            if visitor is not None and visitor["workspaceId"] == workspace_id:
                matching += await Evaluation(ctx, visitor, now).rule(rules)
    return {"total": float(total), "matching": float(matching)}


async def preview_targeting(ctx: Any, workspace_id: str, targeting: Any) -> dict[str, float]:
    """``{total, matching}`` for targeting an agent is editing: inline rules or a segment (validated first)."""
    rules = await validate_targeting(ctx, workspace_id, targeting) if targeting is not None else None
    _, inline = await resolve_targeting(ctx, rules)
    return await count_matching(ctx, workspace_id, inline)
