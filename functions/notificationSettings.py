"""Who is told about a visitor's new message, and how: workspace defaults and each agent's own choices.

These are the preferences ``lib/notifications`` sends by (rules in ``lib/notification_preferences``).
Every member reads and changes only its own preferences; the workspace defaults need
``settings.workspace``. Queries answer null to callers who may not see them.
"""

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.notification_preferences import defaults_of, effective, merged_events, preference_row, workspace_defaults_row
from .lib.permissions import agent_with_permission, require_member, require_permission, signed_in_member

MANAGE = "settings.workspace"
CHOICES = {"newVisitorMessageEmail": v.optional(v.boolean()), "newVisitorMessagePush": v.optional(v.boolean())}


def _pair(values: dict[str, bool]) -> dict[str, bool]:
    return {"newVisitorMessageEmail": values["email"], "newVisitorMessagePush": values["push"]}


@query(args={"workspaceId": v.id("workspaces")})
async def getMyPreferences(ctx, args):
    """``{defaults, overrides, effective, muted}`` of the caller in the workspace; null for non-members."""
    agent = await signed_in_member(ctx, args["workspaceId"])
    if agent is None:
        return None
    defaults = defaults_of(await workspace_defaults_row(ctx, args["workspaceId"]))
    preference = await preference_row(ctx, agent.id, args["workspaceId"])
    chosen = ((preference or {}).get("events") or {}).get("newVisitorMessage") or {}
    return {
        "defaults": _pair(defaults),
        "overrides": {"newVisitorMessageEmail": chosen.get("email"), "newVisitorMessagePush": chosen.get("push")},
        "effective": _pair(effective(preference, defaults)),
        "muted": bool((preference or {}).get("muted", False)),
    }


@mutation(args={"workspaceId": v.id("workspaces"), **CHOICES, "muted": v.optional(v.boolean())})
async def updateMyPreferences(ctx, args):
    """Set the caller's own choices (absent ones are kept); returns the preference row's id."""
    agent = await require_member(ctx, args["workspaceId"])
    existing = await preference_row(ctx, agent.id, args["workspaceId"])
    events, now = merged_events(existing, args), now_ms()
    changes = {"updatedAt": now, **({"events": events} if events else {})}
    if "muted" in args:
        changes["muted"] = args["muted"]
    if existing is not None:
        await ctx.db.patch(existing["_id"], changes)
        return existing["_id"]
    row = {"userId": agent.id, "workspaceId": args["workspaceId"], "muted": False, "createdAt": now, **changes}
    return await ctx.db.insert("notificationPreferences", row)


@query(args={"workspaceId": v.id("workspaces")})
async def getWorkspaceDefaults(ctx, args):
    """``{newVisitorMessageEmail, newVisitorMessagePush}`` for managers of the workspace; null otherwise."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return None
    return _pair(defaults_of(await workspace_defaults_row(ctx, args["workspaceId"])))


@mutation(args={"workspaceId": v.id("workspaces"), **CHOICES})
async def updateWorkspaceDefaults(ctx, args):
    """Set the workspace's defaults (absent ones are kept); returns the row's id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    existing = await workspace_defaults_row(ctx, args["workspaceId"])
    events, now = merged_events(existing, args), now_ms()
    changes = {"updatedAt": now, **({"events": events} if events else {})}
    if existing is not None:
        await ctx.db.patch(existing["_id"], changes)
        return existing["_id"]
    row = {"workspaceId": args["workspaceId"], "createdAt": now, **changes}
    return await ctx.db.insert("workspaceNotificationDefaults", row)
