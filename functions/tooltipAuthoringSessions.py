"""Tooltip authoring sessions: a dashboard user (``settings.workspace``) picks a tooltip's element on the site.

``create`` mints a 30-minute token (optionally for an existing tooltip of the workspace); the
widget validates it, reports the picked selector with ``updateSelector`` (written through to the
tooltip), and ``end`` completes the session. Every widget call names the workspace the token
belongs to.
"""

from runtime import UNDEFINED, mutation, query, v

from .lib.authoring_sessions import live_session, new_authoring_token, session_by_token
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import Doc, require_user
from .lib.permissions import require_permission
from .lib.validators import selector_quality

TABLE = "tooltipAuthoringSessions"
LIFETIME_MS = 30 * 60_000.0
TOOLTIP_SUMMARY = ("_id", "name", "content", "elementSelector", "triggerType", "selectorQuality")
SESSION_SUMMARY = ("_id", "tooltipId", "workspaceId", "status", "selectedSelector", "selectedSelectorQuality")


async def _session_tooltip(ctx, session: Doc) -> Doc | None:
    """The session's tooltip (None for a new one); refuses one that vanished or moved workspace."""
    if "tooltipId" not in session:
        return None
    tooltip = await ctx.db.get(session["tooltipId"])
    if tooltip is None:
        not_found("Tooltip")
    if tooltip["workspaceId"] != session["workspaceId"]:
        fail(INVALID_INPUT, "Tooltip does not belong to session workspace")
    return tooltip


async def _active(ctx, args: dict) -> Doc:
    session = await live_session(ctx, TABLE, args["token"])
    if session["workspaceId"] != args["workspaceId"]:
        fail(NOT_AUTHORIZED, "Session workspace mismatch")
    if session["status"] != "active":
        fail(INVALID_INPUT, f"Session is {session['status']}")
    await _session_tooltip(ctx, session)
    return session


@mutation(args={"workspaceId": v.id("workspaces"), "tooltipId": v.optional(v.id("tooltips"))})
async def create(ctx, args):
    """Open a picking session: ``{sessionId, token}``."""
    user = await require_user(ctx)
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    if "tooltipId" in args:
        await _session_tooltip(ctx, {"tooltipId": args["tooltipId"], "workspaceId": args["workspaceId"]})
    now = now_ms()
    token = new_authoring_token()
    session_id = await ctx.db.insert(
        TABLE,
        {
            "token": token,
            "tooltipId": args.get("tooltipId", UNDEFINED),
            "workspaceId": args["workspaceId"],
            "userId": user["_id"],
            "status": "active",
            "createdAt": now,
            "expiresAt": now + LIFETIME_MS,
        },
    )
    return {"sessionId": session_id, "token": token}


@query(args={"token": v.string(), "workspaceId": v.id("workspaces")})
async def validate(ctx, args):
    """``{valid: true, session, tooltip}`` for an active token of the workspace, ``{valid: false, reason}`` otherwise."""
    session = await session_by_token(ctx, TABLE, args["token"])
    if session is None:
        return {"valid": False, "reason": "Session not found"}
    if session["workspaceId"] != args["workspaceId"]:
        return {"valid": False, "reason": "Session workspace mismatch"}
    if session["status"] != "active":
        return {"valid": False, "reason": f"Session is {session['status']}"}
    if now_ms() > session["expiresAt"]:
        return {"valid": False, "reason": "Session expired"}
    tooltip = await ctx.db.get(session["tooltipId"]) if "tooltipId" in session else None
    if "tooltipId" in session and (tooltip is None or tooltip["workspaceId"] != session["workspaceId"]):
        return {"valid": False, "reason": "Tooltip not found"}
    return {
        "valid": True,
        "session": {field: session[field] for field in SESSION_SUMMARY if field in session},
        "tooltip": {field: tooltip[field] for field in TOOLTIP_SUMMARY if field in tooltip} if tooltip else None,
    }


@mutation(
    args={
        "token": v.string(),
        "workspaceId": v.id("workspaces"),
        "elementSelector": v.string(),
        "selectorQuality": v.optional(selector_quality),
    }
)
async def updateSelector(ctx, args):
    """Record the picked element (and write it to the tooltip): ``{success, selector, selectorQuality}``."""
    session = await _active(ctx, args)
    picked = {"selectedSelector": args["elementSelector"], "selectedSelectorQuality": args.get("selectorQuality", UNDEFINED)}
    await ctx.db.patch(session["_id"], picked)
    if "tooltipId" in session:
        written = {"elementSelector": args["elementSelector"], "selectorQuality": args.get("selectorQuality", UNDEFINED)}
        await ctx.db.patch(session["tooltipId"], {**written, "updatedAt": now_ms()})
    result = {"success": True, "selector": args["elementSelector"]}
    return {**result, "selectorQuality": args["selectorQuality"]} if "selectorQuality" in args else result


@mutation(args={"token": v.string(), "workspaceId": v.id("workspaces")})
async def end(ctx, args):
    """Complete the session: ``{success, selectedSelector?, selectedSelectorQuality?}``."""
    session = await _active(ctx, args)
    await ctx.db.patch(session["_id"], {"status": "completed"})
    picked = {field: session[field] for field in ("selectedSelector", "selectedSelectorQuality") if field in session}
    return {"success": True, **picked}


@query(args={"token": v.string(), "workspaceId": v.id("workspaces")})
async def getByToken(ctx, args):
    """The session of the token in the workspace (status "expired" once past its time), or null."""
    session = await session_by_token(ctx, TABLE, args["token"])
    if session is None or session["workspaceId"] != args["workspaceId"]:
        return None
    expired = session["status"] == "active" and now_ms() > session["expiresAt"]
    return {**session, "status": "expired"} if expired else session
