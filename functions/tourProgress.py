"""Tour progress: where each visitor is in each tour, driven by the widget (or a previewing agent).

Every call names ``workspaceId`` and acts for the session's visitor (``visitor_access``); a tour
must belong to that workspace. Advancing checks the step's route, advance mode, element click and
field value, and records a diagnostic when blocked. Snoozing hides a tour for 24 hours.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.audience import Audience
from .lib.authoring import clamp_limit
from .lib.clock import DAY_MS, now_ms
from .lib.errors import INVALID_INPUT, NOT_FOUND, fail, not_found
from .lib.routes import match_route, normalize_route
from .lib.tours import active_tours, ordered_steps, progress_by_tour, steps_by_tour, visitor_progress
from .lib.visitor_access import acting_visitor, viewing_visitor

MANAGE = "tours.manage"
WHAT = "tour access"
reason = v.union(
    *(
        v.literal(name)
        for name in (
            "mode_mismatch", "element_click_required", "field_fill_required", "field_fill_invalid", "route_mismatch",
            "checkpoint_invalid_route", "selector_missing",
        )  # fmt: skip
    )
)
advance_mode = v.union(v.literal("click"), v.literal("elementClick"), v.literal("fieldFill"))
visitor_args = {"workspaceId": v.id("workspaces"), "visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())}
tour_args = {**visitor_args, "tourId": v.id("tours")}
CLEARED_CHECKPOINT = {"checkpointStep": UNDEFINED, "checkpointRoute": UNDEFINED, "checkpointSelector": UNDEFINED}
CLEARED_BLOCK = {"lastBlockedReason": UNDEFINED, "lastBlockedMode": UNDEFINED, "lastBlockedAt": UNDEFINED}


def _checkpoint(steps: list[dict], index: int) -> dict[str, Any]:
    step = steps[index] if index < len(steps) else {}
    return {
        "checkpointStep": float(index),
        "checkpointRoute": normalize_route(step.get("routePath")) or UNDEFINED,
        "checkpointSelector": step.get("elementSelector", UNDEFINED),
    }


async def _context(ctx: Any, args: dict, *, needs_progress: bool = True) -> tuple[dict, dict, dict | None, list[dict]]:
    """(tour, visitor, progress, ordered steps) for a mutation, with Opencom's refusals."""
    tour = await ctx.db.get(args["tourId"])
    visitor = await acting_visitor(ctx, args, MANAGE, what=WHAT)
    if tour is None:
        not_found("Tour")
    if tour["workspaceId"] != args["workspaceId"]:
        fail(INVALID_INPUT, "Tour does not belong to workspace")
    progress = await visitor_progress(ctx, visitor["_id"], tour["_id"])
    if needs_progress and progress is None:
        fail(NOT_FOUND, "Tour progress not found")
    return tour, visitor, progress, await ordered_steps(ctx, tour["_id"])


def _require_in_progress(progress: dict) -> None:
    if progress["status"] != "in_progress":
        fail(INVALID_INPUT, "Tour is not in progress")


async def _diagnose(ctx: Any, progress: dict, args: dict, why: str, mode: str, metadata: dict | None = None) -> None:
    await ctx.db.insert(
        "tourProgressDiagnostics",
        {
            "progressId": progress["_id"],
            "tourId": progress["tourId"],
            "visitorId": progress["visitorId"],
            "stepOrder": progress["currentStep"],
            "reason": why,
            "mode": mode,
            "selector": args.get("selector", UNDEFINED),
            "currentUrl": args.get("currentUrl", UNDEFINED),
            "metadata": metadata if metadata is not None else UNDEFINED,
            "createdAt": now_ms(),
        },
    )


async def _move_on(ctx: Any, progress: dict, steps: list[dict], extra: dict) -> tuple[str, float]:
    """Go to the next step, or complete the tour past the last one; returns (status, next step)."""
    following = int(progress["currentStep"]) + 1
    now = now_ms()
    if following >= len(steps):
        changes = {"status": "completed", "completedAt": now, **CLEARED_CHECKPOINT}
    else:
        changes = {"status": "in_progress", **_checkpoint(steps, following)}
    await ctx.db.patch(progress["_id"], {"currentStep": float(following), **changes, **extra, "updatedAt": now})
    return changes["status"], float(following)


def _blocked_reason(step: dict, args: dict) -> str | None:
    route = match_route(step.get("routePath"), args.get("currentUrl"))
    if route.invalid_route:
        return "checkpoint_invalid_route"
    if not route.matches:
        return "route_mismatch"
    mode = args.get("mode", "click")
    if mode != step.get("advanceOn", "click"):
        return "mode_mismatch"
    if mode == "elementClick" and not args.get("targetMatched"):
        return "element_click_required"
    if mode == "fieldFill" and not (args.get("fieldValue") or "").strip():
        return "field_fill_required"
    return None


@mutation(args={**tour_args, "force": v.optional(v.boolean()), "currentUrl": v.optional(v.string())})
async def start(ctx, args):
    """Begin (or, forced or after a snooze ran out, restart) the tour; returns the progress id."""
    tour, visitor, progress, steps = await _context(ctx, args, needs_progress=False)
    now = now_ms()
    seen = {"lastSeenUrl": args.get("currentUrl", UNDEFINED), "updatedAt": now}
    if progress is None:
        fields = {"visitorId": visitor["_id"], "tourId": tour["_id"], "currentStep": 0.0, "status": "in_progress"}
        return await ctx.db.insert("tourProgress", {**fields, **_checkpoint(steps, 0), **seen, "createdAt": now})
    snooze_over = progress["status"] == "snoozed" and progress.get("snoozedUntil", now) < now
    if args.get("force") or snooze_over:
        reset = {"currentStep": 0.0, "status": "in_progress", "snoozedUntil": UNDEFINED, "completedAt": UNDEFINED}
        await ctx.db.patch(progress["_id"], {**reset, **_checkpoint(steps, 0), **CLEARED_BLOCK, **seen})
    elif progress["status"] == "in_progress":
        await ctx.db.patch(progress["_id"], {**_checkpoint(steps, int(progress["currentStep"])), **seen})
    return progress["_id"]


@mutation(
    args={
        **tour_args,
        "mode": v.optional(advance_mode),
        "targetMatched": v.optional(v.boolean()),
        "fieldValue": v.optional(v.string()),
        "selector": v.optional(v.string()),
        "currentUrl": v.optional(v.string()),
    }
)
async def advance(ctx, args):
    """Move past the current step if the visitor did what it asks: ``{progressId, advanced, blockedReason, status, nextStep}``."""
    _, _, progress, steps = await _context(ctx, args)
    _require_in_progress(progress)
    index = int(progress["currentStep"])
    if index >= len(steps):
        status, following = await _move_on(ctx, {**progress, "currentStep": float(len(steps))}, steps, {})
        return {"progressId": progress["_id"], "advanced": True, "blockedReason": None, "status": status, "nextStep": following}
    why = _blocked_reason(steps[index], args)
    seen = {"lastSeenUrl": args.get("currentUrl", progress.get("lastSeenUrl", UNDEFINED))}
    if why is not None:
        mode = args.get("mode", "click")
        metadata = {"expectedMode": steps[index].get("advanceOn", "click"), "providedMode": mode, "targetMatched": args.get("targetMatched", False)}
        await _diagnose(ctx, progress, args, why, mode, metadata)
        blocked = {"lastBlockedReason": why, "lastBlockedMode": mode, "lastBlockedAt": now_ms()}
        await ctx.db.patch(progress["_id"], {**_checkpoint(steps, index), **seen, **blocked, "updatedAt": now_ms()})
        return {"progressId": progress["_id"], "advanced": False, "blockedReason": why, "status": "in_progress", "nextStep": float(index)}
    status, following = await _move_on(ctx, progress, steps, {**seen, **CLEARED_BLOCK})
    return {"progressId": progress["_id"], "advanced": True, "blockedReason": None, "status": status, "nextStep": following}


@mutation(args={**tour_args, "reason": reason, "selector": v.optional(v.string()), "currentUrl": v.optional(v.string())})
async def skipStep(ctx, args):
    """Skip a step the widget cannot show (e.g. its selector is missing): ``{progressId, skipped, reason, status, nextStep}``."""
    _, _, progress, steps = await _context(ctx, args)
    _require_in_progress(progress)
    if int(progress["currentStep"]) >= len(steps):
        not_found("Current step")
    await _diagnose(ctx, progress, args, args["reason"], "system")
    blocked = {"lastBlockedReason": args["reason"], "lastBlockedMode": "system", "lastBlockedAt": now_ms()}
    status, following = await _move_on(ctx, progress, steps, blocked)
    return {"progressId": progress["_id"], "skipped": True, "reason": args["reason"], "status": status, "nextStep": following}


@mutation(
    args={
        **tour_args,
        "currentUrl": v.optional(v.string()),
        "selector": v.optional(v.string()),
        "blockedReason": v.optional(reason),
        "mode": v.optional(v.union(advance_mode, v.literal("system"))),
    }
)
async def checkpoint(ctx, args):
    """Remember where the visitor is (and why it is stuck, if it is); returns the progress id."""
    _, _, progress, steps = await _context(ctx, args)
    _require_in_progress(progress)
    index = int(progress["currentStep"])
    if index >= len(steps):
        not_found("Current step")
    now = now_ms()
    if "blockedReason" in args:
        mode = args.get("mode", "system")
        await _diagnose(ctx, progress, args, args["blockedReason"], mode)
        blocked = {"lastBlockedReason": args["blockedReason"], "lastBlockedMode": mode, "lastBlockedAt": now}
    else:
        blocked = CLEARED_BLOCK
    seen = {"lastSeenUrl": args.get("currentUrl", progress.get("lastSeenUrl", UNDEFINED))}
    await ctx.db.patch(progress["_id"], {**_checkpoint(steps, index), **seen, **blocked, "updatedAt": now})
    return progress["_id"]


async def _set(ctx: Any, args: dict, changes: dict) -> str:
    _, _, progress, _ = await _context(ctx, args)
    await ctx.db.patch(progress["_id"], {**changes, "updatedAt": now_ms()})
    return progress["_id"]


@mutation(args=tour_args)
async def complete(ctx, args):
    """Mark the tour completed; returns the progress id."""
    return await _set(ctx, args, {"status": "completed", "completedAt": now_ms(), **CLEARED_CHECKPOINT})


@mutation(args=tour_args)
async def dismiss(ctx, args):
    """Close the tour; returns the progress id."""
    return await _set(ctx, args, {"status": "dismissed", **CLEARED_CHECKPOINT})


@mutation(args=tour_args)
async def snooze(ctx, args):
    """Hide the tour for 24 hours; returns the progress id."""
    return await _set(ctx, args, {"status": "snoozed", "snoozedUntil": now_ms() + DAY_MS})


@mutation(args=tour_args)
async def restart(ctx, args):
    """Start over from the first step; returns the progress id."""
    _, _, progress, steps = await _context(ctx, args)
    reset = {"currentStep": 0.0, "status": "in_progress", "completedAt": UNDEFINED, "snoozedUntil": UNDEFINED}
    await ctx.db.patch(progress["_id"], {**reset, **_checkpoint(steps, 0), **CLEARED_BLOCK, "updatedAt": now_ms()})
    return progress["_id"]


@mutation(args=tour_args)
async def dismissPermanently(ctx, args):
    """Never show the tour to this visitor again (even before it started); returns the progress id."""
    tour, visitor, progress, _ = await _context(ctx, args, needs_progress=False)
    now = now_ms()
    if progress is not None:
        await ctx.db.patch(progress["_id"], {"status": "dismissed", **CLEARED_CHECKPOINT, "updatedAt": now})
        return progress["_id"]
    fields = {"visitorId": visitor["_id"], "tourId": tour["_id"], "currentStep": 0.0, "status": "dismissed"}
    return await ctx.db.insert("tourProgress", {**fields, "createdAt": now, "updatedAt": now})


def _resumable(progress: dict, now: float) -> bool:
    if progress["status"] == "in_progress":
        return True
    return progress["status"] == "snoozed" and progress.get("snoozedUntil", now) < now


@query(args=visitor_args)
async def getActive(ctx, args):
    """The visitor's tours in progress (or whose snooze ran out), each with its tour and steps."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    if visitor is None:
        return []
    now = now_ms()
    active = []
    for progress in (await progress_by_tour(ctx, visitor["_id"])).values():
        tour = await ctx.db.get(progress["tourId"]) if _resumable(progress, now) else None
        if tour is not None and tour["status"] == "active":
            active.append({**progress, "tour": tour, "steps": await ordered_steps(ctx, tour["_id"])})
    return active


def _hidden(tour: dict, progress: dict | None, now: float) -> bool:
    if progress is None:
        return False
    if tour.get("displayMode", "first_time_only") == "first_time_only":
        return progress["status"] != "in_progress"
    if progress["status"] == "dismissed":
        return True
    return progress["status"] == "snoozed" and progress.get("snoozedUntil", 0) > now


@query(args={**visitor_args, "currentUrl": v.optional(v.string())})
async def getAvailableTours(ctx, args):
    """Active tours to show the visitor on ``currentUrl``: ``[{tour, steps, progress}]`` by priority."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    if visitor is None:
        return []
    now = now_ms()
    audience = Audience(ctx, visitor, now)
    progress = await progress_by_tour(ctx, visitor["_id"])
    available, steps = [], await steps_by_tour(ctx, args["workspaceId"])
    for tour in await active_tours(ctx, args["workspaceId"]):
        mine = progress.get(tour["_id"])
        if _hidden(tour, mine, now):
            continue
        page = (tour.get("targetingRules") or {}).get("pageUrl")
        in_progress = mine is not None and mine["status"] == "in_progress"
        if page and not in_progress and args.get("currentUrl") and not match_route(page, args["currentUrl"]).matches:
            continue
        if not await audience.matches(tour.get("audienceRules")):
            continue
        entry = {"tour": tour, "steps": steps.get(tour["_id"], [])}
        if mine is not None:
            entry["progress"] = mine
        available.append(entry)
    return sorted(available, key=lambda entry: entry["tour"].get("priority", 0))


@query(args={**tour_args, "limit": v.optional(v.number())})
async def listDiagnostics(ctx, args):
    """Why the visitor got stuck in the tour, newest first (default 25, at most 100)."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    tour = await ctx.db.get(args["tourId"])
    if visitor is None or tour is None or tour["workspaceId"] != args["workspaceId"]:
        return []
    progress = await visitor_progress(ctx, visitor["_id"], tour["_id"])
    if progress is None:
        return []
    rows = ctx.db.query("tourProgressDiagnostics").with_index("by_progress", lambda q: q.eq("progressId", progress["_id"]))
    return await rows.order("desc").take(clamp_limit(args.get("limit"), 25, 100))
