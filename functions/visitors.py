"""Visitors: the people behind the widget, readable by their workspace's agents and by themselves.

A visitor changes its own profile only through its session token (or a session its connection
proved, ``lib/sessions``). ``identify`` with an email records it on the caller's own visitor; it
folds the caller into an older visitor with that email (``lib/visitor_merge``) only when the
caller proved, with a valid ``userHash``, the very user id that visitor was verified as. An
email anyone can type never hands over someone else's conversations.
"""

from runtime import mutation, query, v

from .lib import visitor_directory as directory
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
    return directory.is_online(visitor)


# --- the agents' visitor directory (lib/visitor_directory) ------------------------------------
_NO_DETAIL = {"visitor": None, "linkedConversations": [], "linkedTickets": [],
              "resourceAccess": {"conversations": False, "tickets": False}}  # fmt: skip


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's newest visitors (``limit``, default 100, at most 500; ``users.read``)."""
    if await agent_with_permission(ctx, args["workspaceId"], "users.read") is None:
        return []
    limit = int(max(1, min(args.get("limit", 100), directory.DIRECTORY_SCAN_LIMIT)))
    visitors = ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    return await visitors.order("desc").take(limit)


@query(args={"workspaceId": v.id("workspaces"), "query": v.string(), "limit": v.optional(v.number())})
async def search(ctx, args):
    """Visitors whose name matches (text search) or whose email is exactly the query (``users.read``)."""
    text = args["query"].strip()
    if len(text) < 2 or await agent_with_permission(ctx, args["workspaceId"], "users.read") is None:
        return []
    limit = int(max(1, min(args.get("limit", 20), 50)))
    by_name = await (
        ctx.db.query("visitors")
        .with_search_index("search_visitors", lambda q: q.search("name", text).eq("workspaceId", args["workspaceId"]))
        .take(limit)
    )
    by_email = []
    for email in dict.fromkeys((text, text.lower())):
        by_email += await (
            ctx.db.query("visitors")
            .with_index("by_email", lambda q, email=email: q.eq("workspaceId", args["workspaceId"]).eq("email", email))
            .take(limit)
        )
    unique = {visitor["_id"]: visitor for visitor in [*by_name, *by_email]}
    return list(unique.values())[:limit]


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "search": v.optional(v.string()),
        "presence": v.optional(v.union(v.literal("all"), v.literal("online"), v.literal("offline"))),
        "limit": v.optional(v.number()),
        "offset": v.optional(v.number()),
    }
)
async def listDirectory(ctx, args):
    """``{status, visitors, totalCount, hasMore, nextOffset}``; status says why a list is empty."""
    status, _ = await directory.directory_access(ctx, args["workspaceId"])
    if status != "ok":
        return {"status": status, "visitors": [], "totalCount": 0.0, "hasMore": False, "nextOffset": None}
    return await directory.directory_page(ctx, args)


@query(args={"workspaceId": v.id("workspaces"), "visitorId": v.id("visitors")})
async def getDirectoryDetail(ctx, args):
    """The visitor with presence, plus its conversations and tickets for agents who may read them."""
    status, granted, visitor = await directory.directory_visitor(ctx, args["workspaceId"], args["visitorId"])
    if status != "ok":
        return {"status": status, **_NO_DETAIL}
    linked = "conversations.read" in granted
    conversations, tickets = (
        await directory.linked_resources(ctx, args["workspaceId"], visitor["_id"]) if linked else ([], [])
    )
    return {
        "status": "ok",
        "visitor": directory.directory_row(visitor, now_ms()),
        "linkedConversations": conversations,
        "linkedTickets": tickets,
        "resourceAccess": {"conversations": linked, "tickets": linked},
    }


@query(args={"workspaceId": v.id("workspaces"), "visitorId": v.id("visitors"), "limit": v.optional(v.number())})
async def getMergeHistory(ctx, args):
    """``{status, entries}``: the merges the visitor took part in, newest first."""
    status, _, visitor = await directory.directory_visitor(ctx, args["workspaceId"], args["visitorId"])
    if status != "ok":
        return {"status": status, "entries": []}
    limit = int(
        max(1, min(args.get("limit", directory.MERGE_HISTORY_DEFAULT_LIMIT), directory.MERGE_HISTORY_MAX_LIMIT))
    )
    merges = ctx.db.query("auditLogs").with_index(
        "by_workspace_action", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("action", "visitor.merged")
    )
    entries = []
    for log in await merges.order("desc").take(directory.MERGE_HISTORY_SCAN_LIMIT):
        entry = directory.merge_entry(log)
        if entry is not None and visitor["_id"] in (entry["sourceVisitorId"], entry["targetVisitorId"]):
            entries.append(entry)
            if len(entries) >= limit:
                break
    return {"status": "ok", "entries": entries}
