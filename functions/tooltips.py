"""Tooltips: hints attached to page elements, authored with ``settings.workspace``, shown by the widget.

A tooltip reaches a visitor when its audience (inline rules or a segment) matches the visitor and
its trigger fires in the page context the widget reports.
"""

from runtime import mutation, query, v

from .lib.audience import Audience, validate_targeting
from .lib.authoring import clamp_limit, managed, readable
from .lib.clock import now_ms
from .lib.permissions import agent_with_permission, require_permission
from .lib.routes import trigger_fires
from .lib.validators import event_properties, selector_quality, trigger_config
from .lib.visitor_access import viewing_visitor

MANAGE = "settings.workspace"
PREVIEW = "articles.read"  # what Opencom asks of an agent previewing a visitor's tooltips
LIST_LIMIT, MAX_LIST_LIMIT = 200, 1000
EVALUATION_LIMIT, MAX_EVALUATION_LIMIT = 300, 1500
trigger_type = v.union(v.literal("hover"), v.literal("click"), v.literal("auto"))
triggers = trigger_config(
    "immediate", "page_visit", "time_on_page", "scroll_depth", "event", "exit_intent",
    scrollPercent=v.optional(v.number()), eventProperties=v.optional(event_properties),
)  # fmt: skip
FIELDS = {
    "elementSelector": v.optional(v.string()),
    "selectorQuality": v.optional(selector_quality),
    "content": v.optional(v.string()),
    "triggerType": v.optional(trigger_type),
    "audienceRules": v.optional(v.any()),
    "triggers": v.optional(triggers),
}
trigger_context = v.object(
    {
        "currentUrl": v.optional(v.string()),
        "timeOnPageSeconds": v.optional(v.number()),
        "scrollPercent": v.optional(v.number()),
        "firedEventName": v.optional(v.string()),
        "firedEventProperties": v.optional(event_properties),
        "isExitIntent": v.optional(v.boolean()),
    }
)


async def _fields(ctx, workspace_id: str, args: dict) -> dict:
    fields = {field: args[field] for field in ("name", *FIELDS) if field in args}
    if "audienceRules" in fields:
        fields["audienceRules"] = await validate_targeting(ctx, workspace_id, fields["audienceRules"])
    return fields


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "elementSelector": v.string(),
        "content": v.string(),
        "triggerType": trigger_type,
        **{field: validator for field, validator in FIELDS.items() if field not in ("elementSelector", "content", "triggerType")},
    }
)
async def create(ctx, args):
    """Create a tooltip; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = await _fields(ctx, args["workspaceId"], args)
    return await ctx.db.insert("tooltips", {"workspaceId": args["workspaceId"], **fields, "createdAt": now, "updatedAt": now})


@mutation(args={"id": v.id("tooltips"), "name": v.optional(v.string()), **FIELDS})
async def update(ctx, args):
    """Overwrite the given fields; returns the tooltip id."""
    tooltip, _ = await managed(ctx, args["id"], "Tooltip", MANAGE)
    await ctx.db.patch(tooltip["_id"], {**await _fields(ctx, tooltip["workspaceId"], args), "updatedAt": now_ms()})
    return tooltip["_id"]


@mutation(args={"id": v.id("tooltips")})
async def remove(ctx, args):
    """Delete the tooltip: ``{success: true}``."""
    tooltip, _ = await managed(ctx, args["id"], "Tooltip", MANAGE)
    await ctx.db.delete(tooltip["_id"])
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's tooltips, most recently updated first (``[]`` without the permission)."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    rows = ctx.db.query("tooltips").with_index("by_workspace_updated_at", lambda q: q.eq("workspaceId", args["workspaceId"]))
    return await rows.order("desc").take(clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT))


@query(args={"id": v.id("tooltips")})
async def get(ctx, args):
    """The tooltip, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
        "limit": v.optional(v.number()),
        "triggerContext": v.optional(trigger_context),
    }
)
async def getAvailableTooltips(ctx, args):
    """The tooltips to show the visitor now: audience matched and trigger fired (``[]`` for strangers)."""
    visitor = await viewing_visitor(ctx, args, PREVIEW)
    if visitor is None:
        return []
    audience = Audience(ctx, visitor)
    context = args.get("triggerContext", {})
    limit = clamp_limit(args.get("limit"), EVALUATION_LIMIT, MAX_EVALUATION_LIMIT)
    rows = ctx.db.query("tooltips").with_index("by_workspace_updated_at", lambda q: q.eq("workspaceId", args["workspaceId"]))
    available = []
    for tooltip in await rows.order("desc").take(limit):
        if await audience.matches(tooltip.get("audienceRules")) and trigger_fires(tooltip.get("triggers"), context):
            available.append(tooltip)
    return available
