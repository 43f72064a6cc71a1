"""Visitors: the people behind the widget, readable by their workspace's agents and by themselves.

A visitor changes its own profile only through its session token (or a session its connection
proved, ``lib/sessions``). ``identify`` with an email records it on the caller's own visitor; it
folds the caller into an older visitor with that email (``lib/visitor_merge``) only when the
caller proved, with a valid ``userHash``, the very user id that visitor was verified as. An
email anyone can type never hands over someone else's conversations.
"""

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.errors import NOT_AUTHORIZED, fail, not_found
from .lib.identity import current_user
from .lib.origins import require_valid_origin
from .lib.permissions import agent_with_permission, require_permission
from .lib.sessions import connection_session, live_session, resolve_session
from .lib.user_hash import apply_identity_verification, may_claim
from .lib.validators import custom_attributes, device, location
from .lib.visitor_merge import canonical_visitor_for_email, merge_visitor
from .lib.visitor_profile import ensure_readable_id, provided_profile


def _proven_user_id(visitor: dict, session: dict, args: dict, verified_now: bool) -> str | None:
    """The user id this caller has proved: in this call, or when its session was booted verified."""
    if verified_now:
        return args["externalUserId"]
    return visitor.get("externalUserId") if session["identityVerified"] else None


@query(args={"id": v.id("visitors")})
async def get(ctx, args):
    """The visitor, for agents of its workspace with ``users.read``; null otherwise."""
    visitor = await ctx.db.get(args["id"])
    if visitor is None or await agent_with_permission(ctx, visitor["workspaceId"], "users.read") is None:
        return None
    return visitor


@query(args={"sessionId": v.string(), "sessionToken": v.optional(v.string())})
async def getBySession(ctx, args):
    """The visitor behind a widget ``sessionId``: for agents of its workspace, or its own session.

    The session is the token given, or without one a session of that visitor proven on the
    caller's connection (how Opencom's widget calls it).
    """
    candidates = ctx.db.query("visitors").with_index("by_session", lambda q: q.eq("sessionId", args["sessionId"]))
    if await current_user(ctx) is not None:
        async for visitor in candidates:
            if await agent_with_permission(ctx, visitor["workspaceId"], "users.read") is not None:
                return visitor
        return None
    if not args.get("sessionToken"):
        async for visitor in candidates:
            if await connection_session(ctx, visitor["workspaceId"], visitor["_id"]) is not None:
                return visitor
        return None
    session = await live_session(ctx, args.get("sessionToken"))
    if session is None:
        return None
    visitor = await ctx.db.get(session["visitorId"])
    if visitor is None or visitor["sessionId"] != args["sessionId"]:
        return None
    return visitor


@mutation(
    args={
        "visitorId": v.id("visitors"),
        "sessionToken": v.optional(v.string()),
        "email": v.optional(v.string()),
        "name": v.optional(v.string()),
        "externalUserId": v.optional(v.string()),
        "userHash": v.optional(v.string()),
        "location": v.optional(location),
        "device": v.optional(device),
        "referrer": v.optional(v.string()),
        "currentUrl": v.optional(v.string()),
        "customAttributes": v.optional(custom_attributes),
        "origin": v.optional(v.string()),
    }
)
async def identify(ctx, args):
    """Update the session's own visitor profile (or merge it by email); returns the resulting visitor."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        not_found("Visitor")
    session = await resolve_session(ctx, args.get("sessionToken"), visitor["workspaceId"], visitor["_id"])
    visitor = await ensure_readable_id(ctx, visitor)
    workspace = await ctx.db.get(visitor["workspaceId"])
    if workspace is None:
        not_found("Workspace")
    require_valid_origin(workspace, args.get("origin"))
    verified = await apply_identity_verification(
        ctx, workspace, visitor["_id"], args.get("externalUserId"), args.get("userHash")
    )

    email = args.get("email")
    if email and email != visitor.get("email"):
        canonical = await canonical_visitor_for_email(ctx, workspace["_id"], email, visitor["_id"])
        if canonical is not None and may_claim(workspace, canonical, _proven_user_id(visitor, session, args, verified)):
            return await merge_visitor(ctx, visitor, canonical, args)

    patch = {**provided_profile(args), "lastSeenAt": now_ms()}
    if args.get("customAttributes"):
        patch["customAttributes"] = {**(visitor.get("customAttributes") or {}), **args["customAttributes"]}
    await ctx.db.patch(visitor["_id"], patch)
    return await ctx.db.get(visitor["_id"])


@mutation(args={"visitorId": v.id("visitors"), "sessionToken": v.optional(v.string()), "location": location})
async def updateLocation(ctx, args):
    """Replace the visitor's location: its own session, or an agent with ``users.read``."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        not_found("Visitor")
    if await current_user(ctx) is not None:
        await require_permission(ctx, visitor["workspaceId"], "users.read")
    else:
        session = await resolve_session(ctx, args.get("sessionToken"), visitor["workspaceId"])
        if session["visitorId"] != visitor["_id"]:
            fail(NOT_AUTHORIZED, "Not authorized to update location for this visitor")
    await ctx.db.patch(visitor["_id"], {"location": args["location"], "lastSeenAt": now_ms()})
    return None


ONLINE_WINDOW_MS = 2 * 60 * 1000.0  # a visitor seen within this long counts as online


@mutation(
    args={
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
        "origin": v.optional(v.string()),
    }
)
async def heartbeat(ctx, args):
    """Mark the session's visitor as seen now (presence); a call without a live session does nothing."""
    session = await live_session(ctx, args.get("sessionToken"))
    if session is None or args.get("visitorId", session["visitorId"]) != session["visitorId"]:
        return None
    visitor = await ctx.db.get(session["visitorId"])
    if visitor is None:
        return None
    workspace = await ctx.db.get(visitor["workspaceId"])
    if workspace is None:
        return None
    require_valid_origin(workspace, args.get("origin"))
    await ctx.db.patch(visitor["_id"], {"lastSeenAt": now_ms()})
    return None


@query(args={"visitorId": v.id("visitors")})
async def isOnline(ctx, args):
    """Whether the visitor was seen in the last two minutes (its workspace's agents; false otherwise)."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None or await agent_with_permission(ctx, visitor["workspaceId"], "conversations.read") is None:
        return False
    return now_ms() - visitor.get("lastSeenAt", 0.0) < ONLINE_WINDOW_MS
