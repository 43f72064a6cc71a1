"""Tour facts several modules need: a tour's steps in order, and its settings' argument shapes."""

from typing import Any

from runtime import v

from .identity import Doc

display_mode = v.union(v.literal("first_time_only"), v.literal("until_dismissed"))
targeting_rules = v.object({"pageUrl": v.optional(v.string()), "userAttributes": v.optional(v.any())})

# Settings create/update accept and duplicate copies (everything but name and status).
TOUR_SETTINGS = {
    "description": v.optional(v.string()),
    "targetingRules": v.optional(targeting_rules),
    "audienceRules": v.optional(v.any()),
    "displayMode": v.optional(display_mode),
    "priority": v.optional(v.number()),
    "buttonColor": v.optional(v.string()),
    "senderId": v.optional(v.id("users")),
    "showConfetti": v.optional(v.boolean()),
    "allowSnooze": v.optional(v.boolean()),
    "allowRestart": v.optional(v.boolean()),
}


async def ordered_steps(ctx: Any, tour_id: str) -> list[Doc]:
    """The tour's steps by ``order``."""
    return await ctx.db.query("tourSteps").with_index("by_tour_order", lambda q: q.eq("tourId", tour_id)).collect()


async def visitor_progress(ctx: Any, visitor_id: str, tour_id: str) -> Doc | None:
    """The visitor's progress row for the tour, or None."""
    return (
        await ctx.db.query("tourProgress")
        .with_index("by_visitor_tour", lambda q: q.eq("visitorId", visitor_id).eq("tourId", tour_id))
        .first()
    )


async def progress_by_tour(ctx: Any, visitor_id: str) -> dict[str, Doc]:
    """The visitor's progress rows keyed by tour id."""
    rows = ctx.db.query("tourProgress").with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
    return {row["tourId"]: row async for row in rows}


async def active_tours(ctx: Any, workspace_id: str) -> list[Doc]:
    """The workspace's active tours."""
    return (
        await ctx.db.query("tours")
        .with_index("by_workspace_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", "active"))
        .collect()
    )


async def steps_by_tour(ctx: Any, workspace_id: str) -> dict[str, list[Doc]]:
    """Every step of the workspace's tours, grouped by tour and ordered (one index read for many tours)."""
    grouped: dict[str, list[Doc]] = {}
    async for step in ctx.db.query("tourSteps").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)):
        grouped.setdefault(step["tourId"], []).append(step)
    return {tour_id: sorted(steps, key=lambda step: step["order"]) for tour_id, steps in grouped.items()}
