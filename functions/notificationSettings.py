"""Who is told about a visitor's new message, and how: workspace defaults and each agent's own choices.

Every member reads and changes only its own preferences; the workspace defaults need
``settings.workspace``. A setting not chosen falls back to the workspace default, and that to
"email and push on". Muting turns push off whatever else is chosen.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.identity import Doc
from .lib.permissions import agent_with_permission, require_member, require_permission, signed_in_member

DEFAULT_CHANNELS = {"email": True, "push": True}
_UPDATE = {
    "workspaceId": v.id("workspaces"),
    "newVisitorMessageEmail": v.optional(v.boolean()),
    "newVisitorMessagePush": v.optional(v.boolean()),
}
_FIELDS = {"newVisitorMessageEmail": "email", "newVisitorMessagePush": "push"}


def _chosen(row: Doc | None) -> Doc:
    return ((row or {}).get("events") or {}).get("newVisitorMessage") or {}


async def _defaults_row(ctx: Any, workspace_id: str) -> Doc | None:
    return await (
        ctx.db.query("workspaceNotificationDefaults")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


async def _defaults(ctx: Any, workspace_id: str) -> Doc:
    return {**DEFAULT_CHANNELS, **_chosen(await _defaults_row(ctx, workspace_id))}


async def _preference_row(ctx: Any, user_id: str, workspace_id: str) -> Doc | None:
    return await (
        ctx.db.query("notificationPreferences")
        .with_index("by_user_workspace", lambda q: q.eq("userId", user_id).eq("workspaceId", workspace_id))
        .first()
    )


async def _save(ctx: Any, table: str, existing: Doc | None, args: Doc, fields: Doc) -> str:
    """Merge the channels ``args`` names into ``existing`` (or a new row of ``fields``); returns the row id."""
    channels = {**_chosen(existing), **{channel: args[name] for name, channel in _FIELDS.items() if name in args}}
    events = {"events": {**((existing or {}).get("events") or {}), "newVisitorMessage": channels}} if channels else {}
    now = now_ms()
    if existing is not None:
        await ctx.db.patch(existing["_id"], {**fields, **events, "updatedAt": now})
        return existing["_id"]
    return await ctx.db.insert(table, {**fields, **events, "createdAt": now, "updatedAt": now})


@query(args={"workspaceId": v.id("workspaces")})
async def getMyPreferences(ctx, args):
    """``{defaults, overrides, effective, muted}`` of the caller in the workspace; null for non-members."""
    agent = await signed_in_member(ctx, args["workspaceId"])
    if agent is None:
        return None
    defaults = await _defaults(ctx, args["workspaceId"])
    preference = await _preference_row(ctx, agent.id, args["workspaceId"])
    overrides = _chosen(preference)
    muted = bool((preference or {}).get("muted", False))
    effective = {channel: overrides.get(channel, defaults[channel]) for channel in DEFAULT_CHANNELS}
    if muted:
        effective["push"] = False
    view = lambda channels: {name: channels.get(channel) for name, channel in _FIELDS.items()}
    return {"defaults": view(defaults), "overrides": view(overrides), "effective": view(effective), "muted": muted}


@mutation(args={**_UPDATE, "muted": v.optional(v.boolean())})
async def updateMyPreferences(ctx, args):
    """Change the caller's own preferences in the workspace; returns the row id."""
    agent = await require_member(ctx, args["workspaceId"])
    existing = await _preference_row(ctx, agent.id, args["workspaceId"])
    fields: Doc = (
        {} if existing is not None else {"userId": agent.id, "workspaceId": args["workspaceId"], "muted": False}
    )
    if "muted" in args:
        fields["muted"] = args["muted"]
    return await _save(ctx, "notificationPreferences", existing, args, fields)


@query(args={"workspaceId": v.id("workspaces")})
async def getWorkspaceDefaults(ctx, args):
    """``{newVisitorMessageEmail, newVisitorMessagePush}`` (``settings.workspace``; null otherwise)."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return None
    defaults = await _defaults(ctx, args["workspaceId"])
    return {name: defaults[channel] for name, channel in _FIELDS.items()}


@mutation(args=_UPDATE)
async def updateWorkspaceDefaults(ctx, args):
    """Change the workspace defaults (``settings.workspace``); returns the row id."""
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    existing = await _defaults_row(ctx, args["workspaceId"])
    fields = {} if existing is not None else {"workspaceId": args["workspaceId"]}
    return await _save(ctx, "workspaceNotificationDefaults", existing, args, fields)
