"""Visitors' device push tokens (the mobile SDK registers them); the dashboard lists and counts them.

A visitor manages its own tokens with its widget session token; an agent needs
``settings.integrations`` in the visitor's workspace. Read functions answer empty values to anyone
else. A token string is unique: registering a known token moves it to the registering visitor
(Opencom's "reassigned"), as a reinstalled app on a shared device would.
"""

from runtime import UNDEFINED, internal_mutation, mutation, query, v

from .lib.authoring import clamp_limit
from .lib.clock import now_ms
from .lib.errors import NOT_AUTHORIZED, NOT_FOUND, fail
from .lib.identity import Doc, current_user
from .lib.permissions import agent_with_permission
from .lib.push_tokens import record_delivery_failure
from .lib.sessions import live_session, resolve_visitor

MANAGE = "settings.integrations"
LIST_LIMIT, MAX_LIST_LIMIT = 200, 2000
STATS_SCAN, MAX_STATS_SCAN = 5000, 20000
TARGETING_PER_VISITOR = 8
DENIED = "Not authorized to manage visitor push tokens"
platform = v.union(v.literal("ios"), v.literal("android"))
VISITOR_PROOF = {"sessionToken": v.optional(v.string()), "workspaceId": v.optional(v.id("workspaces"))}


async def _authorize(ctx, args: dict, visitor_id: str, workspace_id: str) -> None:
    """The caller is that visitor (by its session token) or an agent with ``settings.integrations``."""
    if args.get("sessionToken"):
        if args.get("workspaceId", workspace_id) != workspace_id:
            fail(NOT_AUTHORIZED, "Session token does not match workspace")
        await resolve_visitor(ctx, args["sessionToken"], workspace_id, visitor_id)
        return
    if await current_user(ctx) is None or await agent_with_permission(ctx, workspace_id, MANAGE) is None:
        fail(NOT_AUTHORIZED, DENIED)


async def _by_token(ctx, token: str) -> Doc | None:
    return await ctx.db.query("visitorPushTokens").with_index("by_token", lambda q: q.eq("token", token)).first()


async def _managed_token(ctx, args: dict) -> Doc | None:
    """The named token, None when unknown; NOT_AUTHORIZED when ``visitorId`` names another visitor
    or the caller may not manage the token's visitor (see ``_authorize``)."""
    existing = await _by_token(ctx, args["token"])
    if existing is None:
        return None
    if args.get("visitorId") not in (None, existing["visitorId"]):
        fail(NOT_AUTHORIZED, "Visitor/token mismatch")
    await _authorize(ctx, args, existing["visitorId"], existing["workspaceId"])
    return existing


async def _may_read(ctx, workspace_id: str) -> bool:
    return await current_user(ctx) is not None and await agent_with_permission(ctx, workspace_id, MANAGE) is not None


def _workspace_tokens(ctx, workspace_id: str):
    return ctx.db.query("visitorPushTokens").with_index("by_workspace_updated_at", lambda q: q.eq("workspaceId", workspace_id))


@mutation(args={"visitorId": v.id("visitors"), "token": v.string(), "platform": platform, "deviceId": v.optional(v.string()), **VISITOR_PROOF})
async def register(ctx, args):
    """Register (or refresh, or move to this visitor) a device token: ``{tokenId, status}``."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        fail(NOT_FOUND, "Visitor not found")
    await _authorize(ctx, args, visitor["_id"], visitor["workspaceId"])
    now = now_ms()
    fields = {
        "platform": args["platform"], "deviceId": args.get("deviceId", UNDEFINED), "notificationsEnabled": True,
        "disabledAt": UNDEFINED, "lastFailureAt": UNDEFINED, "lastFailureReason": UNDEFINED, "updatedAt": now,
    }  # fmt: skip
    existing = await _by_token(ctx, args["token"])
    if existing is not None:
        moved = existing["visitorId"] != visitor["_id"]
        if moved:
            fields |= {"visitorId": visitor["_id"], "workspaceId": visitor["workspaceId"]}
        await ctx.db.patch(existing["_id"], fields)
        return {"tokenId": existing["_id"], "status": "reassigned" if moved else "updated"}
    row = {"visitorId": visitor["_id"], "workspaceId": visitor["workspaceId"], "token": args["token"], **fields, "createdAt": now}
    token_id = await ctx.db.insert("visitorPushTokens", {k: val for k, val in row.items() if val is not UNDEFINED})
    return {"tokenId": token_id, "status": "created"}


@mutation(args={"token": v.string(), "visitorId": v.optional(v.id("visitors")), **VISITOR_PROOF})
async def unregister(ctx, args):
    """Forget a device token: ``{success, status: "removed" | "not_found"}``."""
    existing = await _managed_token(ctx, args)
    if existing is None:
        return {"success": True, "status": "not_found"}
    await ctx.db.delete(existing["_id"])
    return {"success": True, "status": "removed", "tokenId": existing["_id"]}


@mutation(args={"token": v.string(), "enabled": v.boolean(), "visitorId": v.optional(v.id("visitors")), **VISITOR_PROOF})
async def setNotificationsEnabled(ctx, args):
    """Switch a device's notifications on or off."""
    existing = await _managed_token(ctx, args)
    if existing is None:
        return {"success": True, "status": "not_found"}
    now = now_ms()
    await ctx.db.patch(
        existing["_id"], {"notificationsEnabled": args["enabled"], "disabledAt": UNDEFINED if args["enabled"] else now, "updatedAt": now}
    )
    return {"success": True, "status": "updated", "tokenId": existing["_id"], "enabled": args["enabled"]}


@internal_mutation(args={"token": v.string(), "error": v.string(), "removeToken": v.optional(v.boolean())})
async def recordDeliveryFailure(ctx, args):
    """A transport's failure for a token: removed when asked, disabled when the error says it is dead."""
    existing = await _by_token(ctx, args["token"])
    if existing is None:
        return {"success": False, "status": "not_found"}
    status, failures = await record_delivery_failure(ctx, existing, args["error"], bool(args.get("removeToken")))
    result = {"success": True, "status": status, "tokenId": existing["_id"]}
    return result if failures is None else result | {"failureCount": failures}


@query(args={"visitorId": v.id("visitors"), "limit": v.optional(v.number()), **VISITOR_PROOF})
async def getByVisitor(ctx, args):
    """The visitor's tokens, for that visitor (session token) or an agent with the permission; [] otherwise."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        return []
    if args.get("sessionToken"):
        session = await live_session(ctx, args["sessionToken"])
        if session is None or session["visitorId"] != visitor["_id"] or args.get("workspaceId", visitor["workspaceId"]) != visitor["workspaceId"]:
            return []
    elif not await _may_read(ctx, visitor["workspaceId"]):
        return []
    limit = clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT)
    return await ctx.db.query("visitorPushTokens").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"])).take(limit)


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def getByWorkspace(ctx, args):
    """The workspace's tokens, most recently updated first."""
    if not await _may_read(ctx, args["workspaceId"]):
        return []
    return await _workspace_tokens(ctx, args["workspaceId"]).order("desc").take(clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT))


@query(args={"workspaceId": v.id("workspaces"), "visitorIds": v.optional(v.array(v.id("visitors"))), "limit": v.optional(v.number())})
async def listForTargeting(ctx, args):
    """Tokens of the named visitors (up to 8 each), or the workspace's newest."""
    if not await _may_read(ctx, args["workspaceId"]):
        return []
    limit = clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT)
    if not args.get("visitorIds"):
        return await _workspace_tokens(ctx, args["workspaceId"]).order("desc").take(limit)
    found = []
    for visitor_id in list(dict.fromkeys(args["visitorIds"]))[:limit]:
        rows = ctx.db.query("visitorPushTokens").with_index("by_visitor", lambda q, vid=visitor_id: q.eq("visitorId", vid))
        found += [t for t in await rows.take(TARGETING_PER_VISITOR) if t["workspaceId"] == args["workspaceId"]]
    return found[:limit]


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def listWithVisitorInfo(ctx, args):
    """The workspace's tokens with their visitor's readable id, name and email (settings screen)."""
    if not await _may_read(ctx, args["workspaceId"]):
        return []
    tokens = await _workspace_tokens(ctx, args["workspaceId"]).order("desc").take(clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT))
    listed = []
    for token in tokens:
        visitor = await ctx.db.get(token["visitorId"]) or {}
        info = {"visitorReadableId": visitor.get("readableId"), "visitorName": visitor.get("name"), "visitorEmail": visitor.get("email")}
        listed.append({**token, **{key: value or None for key, value in info.items()}})
    return listed


@query(args={"workspaceId": v.id("workspaces"), "scanLimit": v.optional(v.number())})
async def getStats(ctx, args):
    """``{total, ios, android, uniqueVisitors}`` over the newest ``scanLimit`` tokens (zeros when not allowed)."""
    if not await _may_read(ctx, args["workspaceId"]):
        return {"total": 0.0, "ios": 0.0, "android": 0.0, "uniqueVisitors": 0.0}
    limit = clamp_limit(args.get("scanLimit"), STATS_SCAN, MAX_STATS_SCAN)
    tokens = await _workspace_tokens(ctx, args["workspaceId"]).order("desc").take(limit)
    return {
        "total": float(len(tokens)),
        "ios": float(sum(t["platform"] == "ios" for t in tokens)),
        "android": float(sum(t["platform"] == "android" for t in tokens)),
        "uniqueVisitors": float(len({t["visitorId"] for t in tokens})),
    }
