"""Widget sessions: ``boot`` turns a browser or SDK into a known visitor holding a session token.

The token (``wst_`` + 64 hex) is the visitor's only credential for every visitor-facing function.
It lives for the workspace's session lifetime (24 h by default, clamped to [1 h, 7 d]); clients
call ``refresh`` once less than 25 % of it remains, and ``boot`` again after it expired. ``boot``
and ``refresh`` also prove the new session on the caller's connection (``lib/sessions``).

A boot resumes an existing visitor only on proof of possession: the browser's own ``sessionId``
(192 random bits the widget keeps in local storage), a live session of that visitor proven on
this connection, or a valid ``userHash`` for the user id the visitor was verified as. Naming a
visitor id or an email proves nothing: such a boot gets a new visitor of its own.
"""

from typing import Any

from runtime import UNDEFINED, ConvexError, internal_mutation, mutation, query, v

from .lib.audit import record_audit
from .lib.clock import now_ms
from .lib.errors import NOT_AUTHENTICATED, SESSION_EXPIRED, fail, not_found
from .lib.identity import Doc, current_user, require_user
from .lib.origins import require_valid_origin
from .lib.permissions import require_permission
from .lib.sessions import (
    clamp_lifetime,
    connection_session,
    new_session_token,
    prove_session,
    resolve_session,
    session_by_token,
)
from .lib.user_hash import apply_identity_verification, hash_is_valid, may_claim
from .lib.validators import custom_attributes, device, location
from .lib.visitor_profile import ensure_readable_id, is_empty, provided_profile

MOBILE_PLATFORMS = ("ios", "android")
CLEANUP_BATCH = 1000


def _resumable(workspace: Doc, visitor: Doc, proven_user_id: str | None) -> bool:
    """A visitor this browser may resume: its own workspace's, and if verified, only with proof."""
    if visitor["workspaceId"] != workspace["_id"]:
        return False
    return not visitor.get("identityVerified") or may_claim(workspace, visitor, proven_user_id)


async def _holds(ctx: Any, workspace: Doc, visitor: Doc, args: dict, proven_user_id: str | None) -> bool:
    """Whether this boot proved possession of ``visitor`` (see the module docstring)."""
    if visitor["workspaceId"] != workspace["_id"]:
        return False
    if may_claim(workspace, visitor, proven_user_id):
        return True
    if visitor["sessionId"] == args["sessionId"]:
        return True
    return await connection_session(ctx, workspace["_id"], visitor["_id"]) is not None


async def _find_visitor(ctx: Any, workspace: Doc, args: dict, proven_user_id: str | None) -> tuple[Doc | None, bool]:
    """The visitor a boot resumes, and whether its ``sessionId`` should move to this boot's.

    An ``existingVisitorId`` this boot holds (see ``_holds``) wins, then the visitor of this
    ``sessionId``, then, for a boot proving a user id, the visitor verified as that user. A
    verified visitor is only resumed by a boot proving its user id.
    """
    existing_id = args.get("existingVisitorId")
    if existing_id is not None:
        visitor = await ctx.db.get(existing_id)
        if (
            visitor is not None
            and await _holds(ctx, workspace, visitor, args, proven_user_id)
            and _resumable(workspace, visitor, proven_user_id)
        ):
            return visitor, True
    same_session = ctx.db.query("visitors").with_index("by_session", lambda q: q.eq("sessionId", args["sessionId"]))
    async for visitor in same_session:
        if _resumable(workspace, visitor, proven_user_id):
            return visitor, False
    if proven_user_id is not None:
        same_user = ctx.db.query("visitors").with_index(
            "by_external_user_id", lambda q: q.eq("workspaceId", workspace["_id"]).eq("externalUserId", proven_user_id)
        )
        async for visitor in same_user:
            if may_claim(workspace, visitor, proven_user_id):
                return visitor, True
    return None, False


async def _upsert_visitor(ctx: Any, workspace: Doc, args: dict) -> Doc:
    now = now_ms()
    fields = provided_profile(args)
    if not is_empty(args.get("customAttributes")):
        fields["customAttributes"] = args["customAttributes"]
    proven = (
        args["externalUserId"] if hash_is_valid(workspace, args.get("externalUserId"), args.get("userHash")) else None
    )
    visitor, move_session = await _find_visitor(ctx, workspace, args, proven)
    if visitor is not None:
        patch = {**fields, "lastSeenAt": now}
        if move_session:
            patch["sessionId"] = args["sessionId"]
        await ctx.db.patch(visitor["_id"], patch)
        visitor_id = visitor["_id"]
    else:
        visitor_id = await ctx.db.insert(
            "visitors",
            {
                **fields,
                "sessionId": args["sessionId"],
                "workspaceId": workspace["_id"],
                "firstSeenAt": now,
                "lastSeenAt": now,
                "createdAt": now,
            },
        )
    return await ensure_readable_id(ctx, await ctx.db.get(visitor_id))


async def _issue_session(
    ctx: Any, workspace: Doc, visitor_id: str, identity_verified: bool, client: dict, audit_metadata: dict
) -> Doc:
    now = now_ms()
    token = new_session_token()
    expires_at = now + clamp_lifetime(workspace.get("sessionLifetimeMs"))
    session_id = await ctx.db.insert(
        "widgetSessions",
        {
            "token": token,
            "visitorId": visitor_id,
            "workspaceId": workspace["_id"],
            "identityVerified": identity_verified,
            "expiresAt": expires_at,
            "createdAt": now,
            **client,
        },
    )
    prove_session(ctx, session_id)
    await record_audit(
        ctx,
        workspace_id=workspace["_id"],
        action="auth.session.created",
        resource_type="widgetSession",
        resource_id=visitor_id,
        actor_type="api",
        metadata=audit_metadata,
    )
    return {"sessionToken": token, "expiresAt": expires_at}


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "sessionId": v.string(),
        "email": v.optional(v.string()),
        "name": v.optional(v.string()),
        "externalUserId": v.optional(v.string()),
        "userHash": v.optional(v.string()),
        "location": v.optional(location),
        "device": v.optional(device),
        "referrer": v.optional(v.string()),
        "currentUrl": v.optional(v.string()),
        "customAttributes": v.optional(custom_attributes),
        "existingVisitorId": v.optional(v.id("visitors")),
        "origin": v.optional(v.string()),
        "clientType": v.optional(v.string()),
        "clientVersion": v.optional(v.string()),
        "clientIdentifier": v.optional(v.string()),
    }
)
async def boot(ctx, args):
    """Find or create the visitor and open a session: ``{visitor, sessionToken, expiresAt}``."""
    workspace = await ctx.db.get(args["workspaceId"])
    if workspace is None:
        not_found("Workspace")
    require_valid_origin(workspace, args.get("origin"))
    visitor = await _upsert_visitor(ctx, workspace, args)
    verified = await apply_identity_verification(
        ctx, workspace, visitor["_id"], args.get("externalUserId"), args.get("userHash")
    )
    platform = (args.get("device") or {}).get("platform")
    client_type = args.get("clientType") or ("mobile_sdk" if platform in MOBILE_PLATFORMS else "web_widget")
    client = {
        "clientType": client_type,
        "clientVersion": args.get("clientVersion", UNDEFINED),
        "clientIdentifier": args.get("clientIdentifier", UNDEFINED),
        "origin": args.get("origin", UNDEFINED),
        "currentUrl": args.get("currentUrl", UNDEFINED),
        "devicePlatform": platform or UNDEFINED,
    }
    audit = {"source": "widgetSessions.boot", "identityVerified": verified}
    session = await _issue_session(ctx, workspace, visitor["_id"], verified, client, audit)
    return {"visitor": await ctx.db.get(visitor["_id"]), **session}


@mutation(args={"sessionToken": v.string()})
async def refresh(ctx, args):
    """Swap a live token for a new one with a full lifetime: ``{sessionToken, expiresAt}``."""
    session = await session_by_token(ctx, args["sessionToken"])
    if session is None:
        fail(NOT_AUTHENTICATED, "Invalid session token")
    if session["expiresAt"] < now_ms():
        fail(SESSION_EXPIRED, "Session expired: please re-boot")
    workspace = await ctx.db.get(session["workspaceId"])
    if workspace is None:
        not_found("Workspace")
    audit = {"source": "widgetSessions.refresh", "refreshed": True}
    issued = await _issue_session(ctx, workspace, session["visitorId"], session["identityVerified"], {}, audit)
    await ctx.db.delete(session["_id"])
    return issued


@mutation(args={"sessionToken": v.string()})
async def revoke(ctx, args):
    """End a session (idempotent): ``{success: true}``."""
    session = await session_by_token(ctx, args["sessionToken"])
    if session is not None:
        await ctx.db.delete(session["_id"])
        await record_audit(
            ctx,
            workspace_id=session["workspaceId"],
            action="auth.logout",
            resource_type="widgetSession",
            resource_id=session["visitorId"],
            actor_type="api",
            metadata={"source": "widgetSessions.revoke"},
        )
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces"), "sessionToken": v.string(), "visitorId": v.optional(v.id("visitors"))})
async def validateSessionToken(ctx, args):
    """``{valid: true, visitorId, identityVerified}`` or ``{valid: false, reason}``; never throws."""
    try:
        session = await resolve_session(ctx, args["sessionToken"], args["workspaceId"])
    except ConvexError as error:
        return {"valid": False, "reason": error.data["message"]}
    if args.get("visitorId") not in (None, session["visitorId"]):
        return {"valid": False, "reason": "Session token does not match visitor"}
    return {"valid": True, "visitorId": session["visitorId"], "identityVerified": session["identityVerified"]}


@query(args={"workspaceId": v.id("workspaces")})
async def getSettings(ctx, args):
    """``{sessionLifetimeMs}`` as stored (24 h when unset); needs ``settings.security``."""
    workspace = await ctx.db.get(args["workspaceId"])
    if await current_user(ctx) is None or workspace is None:
        return None
    await require_permission(ctx, args["workspaceId"], "settings.security")
    return {"sessionLifetimeMs": workspace.get("sessionLifetimeMs", clamp_lifetime(None))}


@mutation(args={"workspaceId": v.id("workspaces"), "sessionLifetimeMs": v.optional(v.number())})
async def updateSettings(ctx, args):
    """Set the lifetime of new sessions (clamped to [1 h, 7 d]; absent resets to 24 h)."""
    await require_user(ctx, "Unauthorized")
    agent = await require_permission(ctx, args["workspaceId"], "settings.security")
    lifetime = clamp_lifetime(args.get("sessionLifetimeMs"))
    await ctx.db.patch(args["workspaceId"], {"sessionLifetimeMs": lifetime})
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="workspace.security.changed",
        resource_type="workspace",
        resource_id=args["workspaceId"],
        actor_id=agent.id,
        metadata={"setting": "sessionLifetimeMs", "newValue": lifetime},
    )
    return {"success": True}


@internal_mutation(args={})
async def cleanupExpiredSessions(ctx, args):
    """Delete up to 1000 expired sessions: ``{deleted, hasMore}`` (the hourly cron; continues while more remain)."""
    now = now_ms()
    expired = (
        await ctx.db.query("widgetSessions")
        .with_index("by_expires", lambda q: q.lt("expiresAt", now))
        .take(CLEANUP_BATCH + 1)
    )
    for session in expired[:CLEANUP_BATCH]:
        await ctx.db.delete(session["_id"])
    has_more = len(expired) > CLEANUP_BATCH
    if has_more:
        await ctx.scheduler.run_after(0, "widgetSessions:cleanupExpiredSessions")
    return {"deleted": float(min(len(expired), CLEANUP_BATCH)), "hasMore": has_more}
