"""Tour steps: the ordered pointers, posts and videos of a tour (``tours.manage``).

``order`` stays 0-based and contiguous: a new step goes last, removing one closes the gap, and
``reorder`` renumbers the listed steps (every listed id must be a step of the tour). Pointer and
video steps, and steps that advance on an element click or a field fill, need a selector.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.authoring import managed, readable
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import require_user
from .lib.routes import normalize_route
from .lib.tours import ordered_steps
from .lib.validators import selector_quality

MANAGE = "tours.manage"
step_type = v.union(v.literal("pointer"), v.literal("post"), v.literal("video"))
STEP_FIELDS = {
    "title": v.optional(v.string()),
    "elementSelector": v.optional(v.string()),
    "position": v.optional(v.union(*(v.literal(p) for p in ("auto", "left", "right", "above", "below")))),
    "size": v.optional(v.union(v.literal("small"), v.literal("large"))),
    "advanceOn": v.optional(v.union(v.literal("click"), v.literal("elementClick"), v.literal("fieldFill"))),
    "routePath": v.optional(v.string()),
    "selectorQuality": v.optional(selector_quality),
    "customButtonText": v.optional(v.string()),
    "mediaUrl": v.optional(v.string()),
    "mediaType": v.optional(v.union(v.literal("image"), v.literal("video"))),
}
TRIMMED = ("elementSelector", "routePath")  # blank means "none"


def _changes(args: dict) -> dict[str, Any]:
    changes = {field: args[field] for field in ("type", "content", *STEP_FIELDS) if field in args}
    for field in TRIMMED:
        if field in changes:
            changes[field] = (normalize_route(changes[field]) if field == "routePath" else changes[field].strip()) or UNDEFINED
    return changes


def _check_selector(step: dict) -> None:
    if step.get("elementSelector"):
        return
    if step["type"] in ("pointer", "video"):
        fail(INVALID_INPUT, "Element selector is required for pointer and video steps")
    if step.get("advanceOn") in ("elementClick", "fieldFill"):
        fail(INVALID_INPUT, "Element selector is required for elementClick and fieldFill advancement")


async def _tour(ctx: Any, tour_id: str) -> dict:
    tour, _ = await managed(ctx, tour_id, "Tour", MANAGE)
    return tour


async def _step(ctx: Any, step_id: str) -> dict:
    """A step the caller may edit (``tours.manage`` on its tour's workspace)."""
    await require_user(ctx)
    step = await ctx.db.get(step_id)
    if step is None:
        not_found("Tour step")
    await _tour(ctx, step["tourId"])
    return step


@query(args={"tourId": v.id("tours")})
async def list_(ctx, args):
    """The tour's steps in order (``[]`` for callers who may not read it)."""
    tour = await readable(ctx, args["tourId"], MANAGE)
    return await ordered_steps(ctx, tour["_id"]) if tour else []


@mutation(args={"tourId": v.id("tours"), "type": step_type, "content": v.string(), **STEP_FIELDS})
async def create(ctx, args):
    """Append a step (position "auto", size "small", advancing on click unless given); returns its id."""
    tour = await _tour(ctx, args["tourId"])
    steps = await ordered_steps(ctx, tour["_id"])
    step = {"position": "auto", "size": "small", "advanceOn": "click", **_changes(args)}
    _check_selector({key: value for key, value in step.items() if value is not UNDEFINED})
    now = now_ms()
    return await ctx.db.insert(
        "tourSteps",
        {
            **step,
            "workspaceId": tour["workspaceId"],
            "tourId": tour["_id"],
            "order": float(steps[-1]["order"] + 1 if steps else 0),
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(args={"id": v.id("tourSteps"), "type": v.optional(step_type), "content": v.optional(v.string()), **STEP_FIELDS})
async def update(ctx, args):
    """Change a step (an empty selector or route clears it); ``position`` is placement, not order."""
    step = await _step(ctx, args["id"])
    changes = _changes(args)
    merged = {**step, **changes}
    _check_selector({key: value for key, value in merged.items() if value is not UNDEFINED})
    await ctx.db.patch(step["_id"], {**changes, "updatedAt": now_ms()})
    return step["_id"]


@mutation(args={"id": v.id("tourSteps")})
async def remove(ctx, args):
    """Delete a step and move every later step up one: ``{success: true}``."""
    step = await _step(ctx, args["id"])
    for later in await ordered_steps(ctx, step["tourId"]):
        if later["order"] > step["order"]:
            await ctx.db.patch(later["_id"], {"order": later["order"] - 1, "updatedAt": now_ms()})
    await ctx.db.delete(step["_id"])
    return {"success": True}


@mutation(args={"tourId": v.id("tours"), "stepIds": v.array(v.id("tourSteps"))})
async def reorder(ctx, args):
    """Put the tour's steps in the given order: ``{success: true}``.

    The list must name every step of the tour exactly once (Opencom renumbers whatever it is
    given, which can leave two steps at one position or renumber another tour's steps).
    """
    tour = await _tour(ctx, args["tourId"])
    current = {step["_id"] for step in await ordered_steps(ctx, tour["_id"])}
    if len(args["stepIds"]) != len(set(args["stepIds"])) or set(args["stepIds"]) != current:
        fail(INVALID_INPUT, "stepIds must list every step of the tour exactly once")
    now = now_ms()
    for index, step_id in enumerate(args["stepIds"]):
        await ctx.db.patch(step_id, {"order": float(index), "updatedAt": now})
    return {"success": True}
