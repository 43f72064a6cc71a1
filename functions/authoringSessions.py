"""Tour authoring sessions: a dashboard user (``tours.manage``) picks step elements on the live site.

``create`` mints a one-hour token for a tour; the widget on the customer's site calls ``validate``
with it to load the tour's steps, ``updateStep`` to store the picked selector (and the page it was
picked on as the step's route), ``setCurrentStep`` to follow the user, and ``end`` to close it.
"""

from runtime import UNDEFINED, mutation, query, v

from .lib.authoring_sessions import live_session, new_authoring_token, route_of, session_by_token
from .lib.clock import HOUR_MS, now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import require_user
from .lib.permissions import require_permission
from .lib.tours import ordered_steps
from .lib.validators import selector_quality

TABLE = "authoringSessions"
LIFETIME_MS = HOUR_MS


async def _step_of(ctx, session: dict, step_id: str) -> dict:
    step = await ctx.db.get(step_id)
    if step is None:
        not_found("Step")
    if step["tourId"] != session["tourId"]:
        fail(INVALID_INPUT, "Step does not belong to this tour")
    return step


@mutation(args={"tourId": v.id("tours"), "stepId": v.optional(v.id("tourSteps")), "targetUrl": v.string()})
async def create(ctx, args):
    """Open an authoring session on ``targetUrl`` for the tour: ``{sessionId, token}``."""
    user = await require_user(ctx)
    tour = await ctx.db.get(args["tourId"])
    if tour is None:
        not_found("Tour")
    await require_permission(ctx, tour["workspaceId"], "tours.manage")
    session = {"tourId": tour["_id"]}
    if "stepId" in args:
        await _step_of(ctx, session, args["stepId"])
    now = now_ms()
    token = new_authoring_token()
    session_id = await ctx.db.insert(
        TABLE,
        {
            "token": token,
            "tourId": tour["_id"],
            "stepId": args.get("stepId", UNDEFINED),
            "userId": user["_id"],
            "workspaceId": tour["workspaceId"],
            "targetUrl": args["targetUrl"],
            "expiresAt": now + LIFETIME_MS,
            "createdAt": now,
        },
    )
    return {"sessionId": session_id, "token": token}


@query(args={"token": v.string()})
async def validate(ctx, args):
    """``{valid: true, session, tour, steps}`` for a live token, ``{valid: false, reason}`` otherwise."""
    session = await session_by_token(ctx, TABLE, args["token"])
    if session is None:
        return {"valid": False, "reason": "Session not found"}
    if now_ms() > session["expiresAt"]:
        return {"valid": False, "reason": "Session expired"}
    tour = await ctx.db.get(session["tourId"])
    if tour is None:
        return {"valid": False, "reason": "Tour not found"}
    shown = {field: session[field] for field in ("tourId", "stepId", "workspaceId", "targetUrl") if field in session}
    tour_summary = {field: tour[field] for field in ("_id", "name", "buttonColor") if field in tour}
    return {"valid": True, "session": shown, "tour": tour_summary, "steps": await ordered_steps(ctx, tour["_id"])}


@mutation(
    args={
        "token": v.string(),
        "stepId": v.id("tourSteps"),
        "elementSelector": v.string(),
        "currentUrl": v.optional(v.string()),
        "selectorQuality": v.optional(selector_quality),
    }
)
async def updateStep(ctx, args):
    """Store the selector picked for a step of the session's tour: ``{success: true}``."""
    session = await live_session(ctx, TABLE, args["token"])
    step = await _step_of(ctx, session, args["stepId"])
    route = route_of(args.get("currentUrl") or session["targetUrl"])
    await ctx.db.patch(
        step["_id"],
        {
            "elementSelector": args["elementSelector"],
            "routePath": route or UNDEFINED,
            "selectorQuality": args.get("selectorQuality", UNDEFINED),
            "updatedAt": now_ms(),
        },
    )
    return {"success": True}


@mutation(args={"token": v.string(), "stepId": v.optional(v.id("tourSteps"))})
async def setCurrentStep(ctx, args):
    """Follow the step the user is editing (a step of the session's tour, or none): ``{success: true}``."""
    session = await live_session(ctx, TABLE, args["token"])
    if "stepId" in args:
        await _step_of(ctx, session, args["stepId"])
    await ctx.db.patch(session["_id"], {"stepId": args.get("stepId", UNDEFINED)})
    return {"success": True}


@mutation(args={"token": v.string()})
async def end(ctx, args):
    """Close the session (an unknown token is already closed): ``{success: true}``."""
    session = await session_by_token(ctx, TABLE, args["token"])
    if session is not None:
        await ctx.db.delete(session["_id"])
    return {"success": True}
