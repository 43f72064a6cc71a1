"""The mobile push tokens visitors registered, as the dashboard's settings show them (``settings.integrations``).

Both reads are bounded: the newest 200 tokens by default (at most 2,000) for the list, the newest
20,000 for the counts.
"""

from typing import Any

from runtime import query, v

from .lib.permissions import agent_with_permission

LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 200, 2000
STATS_DEFAULT_SCAN, STATS_MAX_SCAN = 5000, 20_000
EMPTY_STATS = {"total": 0.0, "ios": 0.0, "android": 0.0, "uniqueVisitors": 0.0}


def _bounded(requested: float | None, default: int, maximum: int) -> int:
    return default if requested is None or requested <= 0 else int(min(requested, maximum))


def _newest(ctx: Any, workspace_id: str) -> Any:
    return (
        ctx.db.query("visitorPushTokens")
        .with_index("by_workspace_updated_at", lambda q: q.eq("workspaceId", workspace_id))
        .order("desc")
    )


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def listWithVisitorInfo(ctx, args):
    """The newest tokens with their visitor's readable id, name and email; [] for others."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.integrations") is None:
        return []
    tokens = await _newest(ctx, args["workspaceId"]).take(
        _bounded(args.get("limit"), LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)
    )
    listed = []
    for token in tokens:
        visitor = await ctx.db.get(token["visitorId"]) or {}
        listed.append(
            {**token, "visitorReadableId": visitor.get("readableId"), "visitorName": visitor.get("name"),
             "visitorEmail": visitor.get("email")}
        )  # fmt: skip
    return listed


@query(args={"workspaceId": v.id("workspaces"), "scanLimit": v.optional(v.number())})
async def getStats(ctx, args):
    """``{total, ios, android, uniqueVisitors}`` over the newest tokens (zeros for others)."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.integrations") is None:
        return EMPTY_STATS
    scan = _bounded(args.get("scanLimit"), STATS_DEFAULT_SCAN, STATS_MAX_SCAN)
    tokens = await _newest(ctx, args["workspaceId"]).take(scan)
    return {
        "total": float(len(tokens)),
        "ios": float(sum(1 for token in tokens if token["platform"] == "ios")),
        "android": float(sum(1 for token in tokens if token["platform"] == "android")),
        "uniqueVisitors": float(len({token["visitorId"] for token in tokens})),
    }
