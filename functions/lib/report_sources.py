"""What reports read: a workspace's conversations, CSAT ratings and AI answers over a date range.

Each read is one index range (``by_workspace_created`` / ``by_created``) from ``startDate`` to
``endDate`` inclusive, so a report costs what its range holds, never the whole table. A range
holding more than ``SCAN_LIMIT`` rows is cut there (newest kept) and the report says
``truncated``. Access is Opencom's: ``conversations.read`` in the workspace.
"""

from typing import Any
from zoneinfo import ZoneInfo

from .identity import Doc
from .permissions import require_permission
from .report_math import zone

SCAN_LIMIT = 20_000  # rows one report reads from a range (Opencom's largest scan)


async def require_report_reader(ctx: Any, workspace_id: str) -> ZoneInfo:
    """Refuse callers without ``conversations.read``; returns the workspace's time zone (office hours, else UTC)."""
    await require_permission(ctx, workspace_id, "conversations.read")
    return await workspace_zone(ctx, workspace_id)


async def workspace_zone(ctx: Any, workspace_id: str) -> ZoneInfo:
    """The time zone the workspace's reports use: its office hours' zone, else UTC."""
    hours = (
        await ctx.db.query("officeHours")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )
    return zone((hours or {}).get("timezone"))


async def in_range(ctx: Any, table: str, index: str, args: Doc) -> tuple[list[Doc], bool]:
    """``(rows, truncated)``: the workspace's rows of ``table`` created in [startDate, endDate], newest first."""
    start, end = args.get("startDate"), args.get("endDate")

    def bounds(q: Any) -> Any:
        q = q.eq("workspaceId", args["workspaceId"])
        if start is not None:
            q = q.gte("createdAt", start)
        if end is not None:
            q = q.lte("createdAt", end)
        return q

    rows = await ctx.db.query(table).with_index(index, bounds).order("desc").take(SCAN_LIMIT + 1)
    return rows[:SCAN_LIMIT], len(rows) > SCAN_LIMIT


async def conversations_in_range(ctx: Any, args: Doc) -> tuple[list[Doc], bool]:
    """The workspace's conversations created in the range."""
    return await in_range(ctx, "conversations", "by_workspace_created", args)


async def csat_in_range(ctx: Any, args: Doc) -> tuple[list[Doc], bool]:
    """The workspace's CSAT ratings given in the range."""
    return await in_range(ctx, "csatResponses", "by_created", args)


async def ai_answers_in_range(ctx: Any, args: Doc) -> tuple[list[Doc], bool]:
    """The workspace's AI answers given in the range."""
    return await in_range(ctx, "aiResponses", "by_workspace_created", args)


async def agent_names(ctx: Any, agent_ids: set[str]) -> dict[str, str]:
    """Each agent's name (else email, else "Unknown")."""
    names = {}
    for agent_id in agent_ids:
        user = await ctx.db.get(agent_id)
        names[agent_id] = (user or {}).get("name") or (user or {}).get("email") or "Unknown"
    return names
