"""How many visitors a workspace has, without reading them all in one function.

A function may read at most 32,000 documents, so an audience count cannot scan a large
workspace. A census job (``segments:takeVisitorCensus``) counts the visitors page by page in
scheduled runs and stores the count with the ``_creationTime`` it counted through; a count then
reads only the visitors created since (an index range). Visitors deleted after a census (merges)
are off by one until the next census: audience authoring arms one, and a daily cron
(``segments:refreshVisitorCensuses``) re-arms those more than a day old.
"""

from typing import Any

from runtime import UNDEFINED

from .clock import DAY_MS, now_ms
from .identity import Doc

CENSUS_JOB = "segments:takeVisitorCensus"
CENSUS_PAGE = 16_000  # visitors one census run reads
RECENT_LIMIT = 10_000  # visitors since the census one count may read before it reports an estimate
CENSUS_INTERVAL_MS = DAY_MS


async def census(ctx: Any, workspace_id: str) -> Doc | None:
    """The workspace's census row, or None before its first census was armed."""
    return await ctx.db.query("audienceStats").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).first()


def visitors_after(ctx: Any, workspace_id: str, after: float | None) -> Any:
    """The workspace's visitors created after ``after`` (all of them for None), oldest first."""

    def newer(q: Any) -> Any:
        q = q.eq("workspaceId", workspace_id)
        return q if after is None else q.gt("_creationTime", after)

    return ctx.db.query("visitors").with_index("by_workspace", newer)


async def visitor_total(ctx: Any, workspace_id: str) -> tuple[int, bool]:
    """``(total, exact)``: the census count plus visitors created since; inexact past ``RECENT_LIMIT``."""
    stats = await census(ctx, workspace_id)
    base = int(stats["visitorCount"]) if stats and "countedThrough" in stats else 0
    after = stats.get("countedThrough") if stats else None
    recent = await visitors_after(ctx, workspace_id, after).take(RECENT_LIMIT + 1)
    return base + min(len(recent), RECENT_LIMIT), len(recent) <= RECENT_LIMIT


async def arm_census(ctx: Any, workspace_id: str) -> None:
    """Schedule a census unless one is running or the last is less than a day old."""
    stats = await census(ctx, workspace_id)
    now = now_ms()
    if stats is not None and ("pendingSince" in stats or now - stats.get("takenAt", 0) < CENSUS_INTERVAL_MS):
        return
    if stats is None:
        await ctx.db.insert("audienceStats", {"workspaceId": workspace_id, "visitorCount": 0.0, "pendingSince": now})
    else:
        await ctx.db.patch(stats["_id"], {"pendingSince": now})
    await ctx.scheduler.run_after(0, CENSUS_JOB, {"workspaceId": workspace_id, "counted": 0.0})


async def census_step(ctx: Any, workspace_id: str, after: float | None, counted: float) -> None:
    """Count one page of visitors; schedule the next page or store the finished count."""
    page = await visitors_after(ctx, workspace_id, after).take(CENSUS_PAGE)
    counted += len(page)
    last = page[-1]["_creationTime"] if page else after
    if len(page) == CENSUS_PAGE:
        await ctx.scheduler.run_after(0, CENSUS_JOB, {"workspaceId": workspace_id, "after": last, "counted": counted})
        return
    stats = await census(ctx, workspace_id)
    finished = {"visitorCount": counted, "countedThrough": last if last is not None else UNDEFINED, "takenAt": now_ms()}
    if stats is None:
        await ctx.db.insert("audienceStats", {"workspaceId": workspace_id, **finished})
    else:
        await ctx.db.patch(stats["_id"], {**finished, "pendingSince": UNDEFINED})
