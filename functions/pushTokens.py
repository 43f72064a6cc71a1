"""Agents' device push tokens (the mobile app registers them); only their owner manages them.

They carry agent notifications only, never visitor campaigns. Reading another agent's tokens needs
``users.read`` in that agent's workspace.
"""

from runtime import UNDEFINED, internal_mutation, mutation, query, v

from .lib.clock import now_ms
from .lib.errors import NOT_AUTHORIZED, fail
from .lib.identity import auth_user_id, require_user
from .lib.permissions import agent_with_permission
from .lib.push_tokens import record_delivery_failure

platform = v.union(v.literal("ios"), v.literal("android"))
MAX_TOKENS = 100  # devices listed (and unregistered at once) per user


async def _by_token(ctx, token: str):
    return await ctx.db.query("pushTokens").with_index("by_token", lambda q: q.eq("token", token)).first()


@mutation(args={"token": v.string(), "userId": v.id("users"), "platform": platform})
async def register(ctx, args):
    """Register the signed-in agent's device (a token known for another user moves to this one); returns its id."""
    user = await require_user(ctx)
    if user["_id"] != args["userId"]:
        fail(NOT_AUTHORIZED, "Cannot register push token for another user")
    now = now_ms()
    fields = {"userId": user["_id"], "platform": args["platform"], "notificationsEnabled": True, "updatedAt": now}
    existing = await _by_token(ctx, args["token"])
    if existing is not None:
        cleared = {"disabledAt": UNDEFINED, "lastFailureAt": UNDEFINED, "lastFailureReason": UNDEFINED}
        await ctx.db.patch(existing["_id"], {**fields, **cleared})
        return existing["_id"]
    return await ctx.db.insert("pushTokens", {**fields, "token": args["token"], "createdAt": now})


@mutation(args={"token": v.string()})
async def unregister(ctx, args):
    """Forget one of the caller's devices (a token of someone else's is left alone)."""
    user = await require_user(ctx)
    existing = await _by_token(ctx, args["token"])
    if existing is not None and existing["userId"] == user["_id"]:
        await ctx.db.delete(existing["_id"])
    return {"success": True}


@mutation(args={})
async def unregisterAllForCurrentUser(ctx, args):
    """Forget every device of the caller (signing out everywhere)."""
    user = await require_user(ctx)
    tokens = await ctx.db.query("pushTokens").with_index("by_user", lambda q: q.eq("userId", user["_id"])).take(MAX_TOKENS)
    for token in tokens:
        await ctx.db.delete(token["_id"])
    return {"success": True, "removed": float(len(tokens))}


@query(args={"userId": v.id("users")})
async def getByUser(ctx, args):
    """The user's devices: for that user, or an agent with ``users.read`` in their workspace; [] otherwise."""
    requester = await auth_user_id(ctx)
    if requester is None:
        return []
    if requester != args["userId"]:
        target = await ctx.db.get(args["userId"])
        if not target or not target.get("workspaceId") or await agent_with_permission(ctx, target["workspaceId"], "users.read") is None:
            return []
    return await ctx.db.query("pushTokens").with_index("by_user", lambda q: q.eq("userId", args["userId"])).take(MAX_TOKENS)


@mutation(args={"token": v.string(), "enabled": v.boolean()})
async def setNotificationsEnabled(ctx, args):
    """Switch one of the caller's devices on or off."""
    user = await require_user(ctx)
    existing = await _by_token(ctx, args["token"])
    if existing is None or existing["userId"] != user["_id"]:
        fail(NOT_AUTHORIZED, "Cannot update push token for another user")
    now = now_ms()
    await ctx.db.patch(
        existing["_id"], {"notificationsEnabled": args["enabled"], "disabledAt": UNDEFINED if args["enabled"] else now, "updatedAt": now}
    )
    return {"success": True}


@internal_mutation(args={"token": v.string(), "error": v.string(), "removeToken": v.optional(v.boolean())})
async def recordDeliveryFailure(ctx, args):
    """A transport's failure for an agent's token: removed when asked, disabled when the error says it is dead."""
    existing = await _by_token(ctx, args["token"])
    if existing is None:
        return {"success": False, "status": "not_found"}
    status, _ = await record_delivery_failure(ctx, existing, args["error"], bool(args.get("removeToken")))
    return {"success": True, "status": status}
