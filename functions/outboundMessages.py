"""Outbound messages: chats, posts and banners pushed to targeted visitors (``settings.workspace``).

A message reaches a visitor while active, inside its schedule, under its frequency cap (``once``:
never after a "shown" impression; ``once_per_session``: once per widget session id), on a page its
page-visit trigger allows, and when its audience (inline rules or a segment) matches. Other
trigger kinds (time on page, scroll depth, events) are left to the widget, as in Opencom.
"""

from runtime import UNDEFINED, mutation, query, v

from .lib.audience import Audience, validate_targeting
from .lib.authoring import managed, readable, set_status
from .lib.clock import now_ms
from .lib.outbound_shapes import content, frequency, impression_action, message_status, message_type, triggers
from .lib.permissions import agent_with_permission, require_permission
from .lib.routes import page_trigger_allows
from .lib.segment_usage import stored_targeting
from .lib.validators import scheduling
from .lib.visitor_access import acting_visitor, viewing_visitor

MANAGE = "settings.workspace"
PREVIEW = "conversations.read"  # what Opencom asks of an agent previewing a visitor's messages
SETTINGS = {
    "targeting": v.optional(v.any()),
    "triggers": v.optional(triggers),
    "frequency": v.optional(frequency),
    "scheduling": v.optional(scheduling),
    "priority": v.optional(v.number()),
}


async def _settings(ctx, workspace_id: str, args: dict) -> dict:
    fields = {field: args[field] for field in ("name", "content", *SETTINGS) if field in args}
    if "targeting" in fields:
        fields["targeting"] = await validate_targeting(ctx, workspace_id, fields["targeting"], "targeting rules")
        fields["audienceRules"] = UNDEFINED  # the written targeting is the one that counts
    return fields


@mutation(args={"workspaceId": v.id("workspaces"), "type": message_type, "name": v.string(), "content": content, **SETTINGS})
async def create(ctx, args):
    """Create a draft message; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = await _settings(ctx, args["workspaceId"], args)
    base = {"workspaceId": args["workspaceId"], "type": args["type"], "status": "draft"}
    return await ctx.db.insert("outboundMessages", {**base, **fields, "createdAt": now, "updatedAt": now})


@mutation(args={"id": v.id("outboundMessages"), "name": v.optional(v.string()), "content": v.optional(content), **SETTINGS})
async def update(ctx, args):
    """Overwrite the given fields (content is replaced whole); returns the id."""
    message, _ = await managed(ctx, args["id"], "Message", MANAGE)
    await ctx.db.patch(message["_id"], {**await _settings(ctx, message["workspaceId"], args), "updatedAt": now_ms()})
    return message["_id"]


@mutation(args={"id": v.id("outboundMessages")})
async def remove(ctx, args):
    """Delete the message (its impressions stay for reporting)."""
    message, _ = await managed(ctx, args["id"], "Message", MANAGE)
    await ctx.db.delete(message["_id"])
    return None


@mutation(args={"id": v.id("outboundMessages")})
async def activate(ctx, args):
    """Start delivering the message."""
    await set_status(ctx, args["id"], "Message", MANAGE, "active")


@mutation(args={"id": v.id("outboundMessages")})
async def pause(ctx, args):
    """Stop delivering the message."""
    await set_status(ctx, args["id"], "Message", MANAGE, "paused")


@mutation(args={"id": v.id("outboundMessages")})
async def archive(ctx, args):
    """Retire the message."""
    await set_status(ctx, args["id"], "Message", MANAGE, "archived")


@query(args={"workspaceId": v.id("workspaces"), "type": v.optional(message_type), "status": v.optional(message_status)})
async def list_(ctx, args):
    """The workspace's messages, newest first, optionally of one type and/or status."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    if "status" in args:
        rows = ctx.db.query("outboundMessages").with_index(
            "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", args["status"])
        )
    elif "type" in args:
        rows = ctx.db.query("outboundMessages").with_index(
            "by_workspace_type", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("type", args["type"])
        )
    else:
        rows = ctx.db.query("outboundMessages").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    found = [row for row in await rows.collect() if args.get("type") in (None, row["type"])]
    return sorted(found, key=lambda row: row["createdAt"], reverse=True)


@query(args={"id": v.id("outboundMessages")})
async def get(ctx, args):
    """The message, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


async def _impressions(ctx, message_id: str) -> list[dict]:
    return await ctx.db.query("outboundMessageImpressions").with_index("by_message", lambda q: q.eq("messageId", message_id)).collect()


@query(args={"id": v.id("outboundMessages")})
async def getStats(ctx, args):
    """``{shown, clicked, dismissed, clickRate, dismissRate}`` (rates in percent of shown)."""
    message = await readable(ctx, args["id"], MANAGE)
    if message is None:
        return None
    impressions = await _impressions(ctx, message["_id"])
    shown, clicked, dismissed = (float(sum(1 for row in impressions if row["action"] == action)) for action in ("shown", "clicked", "dismissed"))
    click_rate, dismiss_rate = (count / shown * 100 if shown else 0.0 for count in (clicked, dismissed))
    return {"shown": shown, "clicked": clicked, "dismissed": dismissed, "clickRate": click_rate, "dismissRate": dismiss_rate}


def _in_schedule(message: dict, now: float) -> bool:
    window = message.get("scheduling") or {}
    return not (window.get("startDate", now) > now or window.get("endDate", now) < now)


async def _under_cap(ctx, message: dict, visitor_id: str, session_id: str | None) -> bool:
    cap = message.get("frequency", "always")
    if cap == "always":
        return True
    rows = ctx.db.query("outboundMessageImpressions").with_index(
        "by_visitor_message", lambda q: q.eq("visitorId", visitor_id).eq("messageId", message["_id"])
    )
    async for row in rows:
        if row["action"] == "shown" and (cap == "once" or (session_id is not None and row.get("sessionId") == session_id)):
            return False
    return True


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "currentUrl": v.string(),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
        "sessionId": v.optional(v.string()),
    }
)
async def getEligible(ctx, args):
    """The active messages to show the visitor on ``currentUrl`` now, highest priority first."""
    visitor = await viewing_visitor(ctx, args, PREVIEW)
    if visitor is None:
        return []
    now = now_ms()
    audience = Audience(ctx, visitor, now)
    active = ctx.db.query("outboundMessages").with_index(
        "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "active")
    )
    eligible = []
    async for message in active:
        if not _in_schedule(message, now) or not page_trigger_allows(message.get("triggers"), args["currentUrl"]):
            continue
        if await _under_cap(ctx, message, visitor["_id"], args.get("sessionId")) and await audience.matches(stored_targeting(message)):
            eligible.append(message)
    return sorted(eligible, key=lambda message: message.get("priority", 0), reverse=True)


@mutation(
    args={
        "messageId": v.id("outboundMessages"),
        "action": impression_action,
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
        "sessionId": v.optional(v.string()),
        "buttonIndex": v.optional(v.number()),
    }
)
async def trackImpression(ctx, args):
    """Record that the visitor saw, clicked or dismissed a message; returns its id (null for a deleted message)."""
    message = await ctx.db.get(args["messageId"])
    if message is None:
        return None
    visitor = await acting_visitor(ctx, {**args, "workspaceId": message["workspaceId"]}, PREVIEW, what="impression tracking")
    fields = {"messageId": message["_id"], "visitorId": visitor["_id"], "action": args["action"]}
    optional = {field: args.get(field, UNDEFINED) for field in ("sessionId", "buttonIndex")}
    return await ctx.db.insert("outboundMessageImpressions", {**fields, **optional, "createdAt": now_ms()})
