"""Product tours: authored by agents with ``tours.manage``, shown to visitors while active.

A tour is created as a draft; ``activate``/``deactivate`` move it between active and draft (no
step count check, as in Opencom). Audience rules are validated on every write and may reference a
segment of the same workspace. Removing a tour removes its steps and every visitor's progress.
"""

from runtime import mutation, query, v

from .lib.audience import validate_targeting
from .lib.audience_count import preview_targeting
from .lib.authoring import copy_name, managed, readable, set_status
from .lib.clock import now_ms
from .lib.permissions import agent_with_permission, require_permission
from .lib.tours import TOUR_SETTINGS, active_tours, ordered_steps, progress_by_tour, steps_by_tour
from .lib.visitor_access import viewing_visitor
from .lib.visitor_census import arm_census

MANAGE = "tours.manage"
DEFAULTS = {"displayMode": "first_time_only", "priority": 0.0, "showConfetti": True, "allowSnooze": True, "allowRestart": True}
COPIED_STEP_FIELDS = (
    "type", "order", "title", "content", "elementSelector", "position", "size", "advanceOn", "customButtonText",
    "mediaUrl", "mediaType",
)  # fmt: skip


async def _settings(ctx, workspace_id: str, args: dict) -> dict:
    settings = {field: args[field] for field in TOUR_SETTINGS if field in args}
    if "audienceRules" in settings:
        settings["audienceRules"] = await validate_targeting(ctx, workspace_id, settings["audienceRules"])
    return settings


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(v.union(*(v.literal(s) for s in ("draft", "active", "archived"))))})
async def list_(ctx, args):
    """The workspace's tours, oldest first, optionally of one status (``[]`` without the permission)."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    if "status" in args:
        tours = ctx.db.query("tours").with_index(
            "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", args["status"])
        )
    else:
        tours = ctx.db.query("tours").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    return await tours.collect()


@query(args={"id": v.id("tours")})
async def get(ctx, args):
    """The tour, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), **TOUR_SETTINGS})
async def create(ctx, args):
    """Create a draft tour with Opencom's defaults; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    settings = await _settings(ctx, args["workspaceId"], args)
    await arm_census(ctx, args["workspaceId"])
    return await ctx.db.insert(
        "tours",
        {
            "workspaceId": args["workspaceId"],
            "name": args["name"],
            "status": "draft",
            **DEFAULTS,
            **settings,
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(args={"id": v.id("tours"), "name": v.optional(v.string()), **TOUR_SETTINGS})
async def update(ctx, args):
    """Overwrite the given settings; returns the tour id."""
    tour, _ = await managed(ctx, args["id"], "Tour", MANAGE)
    changes = await _settings(ctx, tour["workspaceId"], args)
    if "name" in args:
        changes["name"] = args["name"]
    await ctx.db.patch(tour["_id"], {**changes, "updatedAt": now_ms()})
    return tour["_id"]


@mutation(args={"id": v.id("tours")})
async def remove(ctx, args):
    """Delete the tour, its steps and every visitor's progress: ``{success: true}``."""
    tour, _ = await managed(ctx, args["id"], "Tour", MANAGE)
    for table in ("tourSteps", "tourProgress"):
        async for row in ctx.db.query(table).with_index("by_tour", lambda q: q.eq("tourId", tour["_id"])):
            await ctx.db.delete(row["_id"])
    await ctx.db.delete(tour["_id"])
    return {"success": True}


@mutation(args={"id": v.id("tours")})
async def activate(ctx, args):
    """Show the tour to visitors; returns its id."""
    return (await set_status(ctx, args["id"], "Tour", MANAGE, "active"))["_id"]


@mutation(args={"id": v.id("tours")})
async def deactivate(ctx, args):
    """Take the tour back to draft; returns its id."""
    return (await set_status(ctx, args["id"], "Tour", MANAGE, "draft"))["_id"]


@mutation(args={"id": v.id("tours")})
async def duplicate(ctx, args):
    """A draft "<name> (Copy)" with the same settings and steps (routes and selector scores not copied)."""
    tour, _ = await managed(ctx, args["id"], "Tour", MANAGE)
    now = now_ms()
    copied = {field: tour[field] for field in TOUR_SETTINGS if field in tour}
    copy_id = await ctx.db.insert(
        "tours",
        {
            "workspaceId": tour["workspaceId"],
            "name": copy_name(tour["name"]),
            "status": "draft",
            **copied,
            "createdAt": now,
            "updatedAt": now,
        },
    )
    for step in await ordered_steps(ctx, tour["_id"]):
        fields = {field: step[field] for field in COPIED_STEP_FIELDS if field in step}
        await ctx.db.insert(
            "tourSteps",
            {**fields, "workspaceId": tour["workspaceId"], "tourId": copy_id, "createdAt": now, "updatedAt": now},
        )
    return copy_id


def _tour_status(progress: dict | None) -> str:
    if progress is None or progress["status"] in ("dismissed", "snoozed"):
        return "new"
    return progress["status"]


async def _agent_overview(ctx, args: dict) -> bool:
    """A manager asking without naming a visitor sees every active tour as new."""
    return "visitorId" not in args and await agent_with_permission(ctx, args["workspaceId"], MANAGE) is not None


@query(args={"workspaceId": v.id("workspaces"), "visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())})
async def listAll(ctx, args):
    """Every active tour with its ordered steps, the visitor's status in it and its step selectors."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    if visitor is None and not await _agent_overview(ctx, args):
        return []
    progress = await progress_by_tour(ctx, visitor["_id"]) if visitor else {}
    listed, grouped = [], await steps_by_tour(ctx, args["workspaceId"])
    for tour in sorted(await active_tours(ctx, args["workspaceId"]), key=lambda tour: tour.get("priority", 0)):
        steps = grouped.get(tour["_id"], [])
        listed.append(
            {
                "tour": tour,
                "steps": steps,
                "tourStatus": _tour_status(progress.get(tour["_id"])),
                "elementSelectors": [step["elementSelector"] for step in steps if step.get("elementSelector")],
            }
        )
    return listed


@query(args={"workspaceId": v.id("workspaces"), "audienceRules": v.optional(v.any())})
async def previewAudienceRules(ctx, args):
    """``{total, matching}`` visitors for the rules (or the segment they name); zeros without the permission."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return {"total": 0.0, "matching": 0.0}
    return await preview_targeting(ctx, args["workspaceId"], args.get("audienceRules"))
