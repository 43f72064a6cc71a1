"""Where visitors' activity reaches series: events, identification and tags schedule enrollment.

A tag put on one of a visitor's conversations is the trigger context ``{source:
"visitor_state_changed", attributeKey: "tag", toValue: <tag name>}``, so a series whose trigger
names that tag (Opencom's trigger shape has no source of its own for tags) enrolls the visitor.

The caller's mutation only schedules (``series:evaluateEnrollmentForVisitor`` and, for events,
``series:resumeWaitingForEvent``), and only when the workspace has an active series or the visitor
is waiting, so tracking an event stays cheap for workspaces without series.
"""

from typing import Any

MAX_ATTRIBUTE_TRIGGERS = 10  # attribute changes one identify offers to series
TAG_KEY = "tag"


async def notify(ctx: Any, workspace_id: str, visitor_id: str, context: dict[str, Any]) -> None:
    """Tell the workspace's series that ``visitor_id`` did something (``context``: source, eventName, ...)."""
    active = ctx.db.query("series").with_index("by_workspace_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", "active"))
    if await active.first() is not None:
        args = {"workspaceId": workspace_id, "visitorId": visitor_id, "triggerContext": context}
        await ctx.scheduler.run_after(0, "series:evaluateEnrollmentForVisitor", args)
    if context.get("eventName"):
        waiting = ctx.db.query("seriesProgress").with_index("by_visitor_status", lambda q: q.eq("visitorId", visitor_id).eq("status", "waiting"))
        if await waiting.first() is not None:
            args = {"workspaceId": workspace_id, "visitorId": visitor_id, "eventName": context["eventName"]}
            await ctx.scheduler.run_after(0, "series:resumeWaitingForEvent", args)


async def notify_identified(ctx: Any, visitor: dict[str, Any], attributes: dict[str, Any]) -> None:
    """``identify``: a state change, and one attribute change per custom attribute whose value changed."""
    await notify(ctx, visitor["workspaceId"], visitor["_id"], {"source": "visitor_state_changed", "attributeKey": "identified"})
    before = visitor.get("customAttributes") or {}
    for key, value in list(attributes.items())[:MAX_ATTRIBUTE_TRIGGERS]:
        if before.get(key) != value:
            change = {"source": "visitor_attribute_changed", "attributeKey": key, "toValue": _text(value)}
            if key in before:
                change["fromValue"] = _text(before[key])
            await notify(ctx, visitor["workspaceId"], visitor["_id"], change)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


async def notify_tagged(ctx: Any, conversation: dict[str, Any], tag_name: str) -> None:
    """A tag was newly put on ``conversation``: its visitor (if any) is offered to series triggered by it."""
    if conversation.get("visitorId"):
        context = {"source": "visitor_state_changed", "attributeKey": TAG_KEY, "toValue": tag_name}
        await notify(ctx, conversation["workspaceId"], conversation["visitorId"], context)
