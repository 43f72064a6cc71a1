"""Whether an agent wants to hear about new visitor messages, by email and by push.

An agent's own choice wins; otherwise the workspace's default; otherwise on. Muting turns push
off whatever else is set (email still follows the preference).
"""

from typing import Any

from .identity import Doc

DEFAULTS = {"email": True, "push": True}


async def workspace_defaults_row(ctx: Any, workspace_id: str) -> Doc | None:
    rows = ctx.db.query("workspaceNotificationDefaults").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
    return await rows.first()


async def preference_row(ctx: Any, user_id: str, workspace_id: str) -> Doc | None:
    rows = ctx.db.query("notificationPreferences").with_index(
        "by_user_workspace", lambda q: q.eq("userId", user_id).eq("workspaceId", workspace_id)
    )
    return await rows.first()


def _new_visitor_message(row: Doc | None) -> dict:
    return ((row or {}).get("events") or {}).get("newVisitorMessage") or {}


def defaults_of(row: Doc | None) -> dict[str, bool]:
    """The workspace's defaults: ``{email, push}``."""
    chosen = _new_visitor_message(row)
    return {channel: chosen.get(channel, DEFAULTS[channel]) for channel in DEFAULTS}


def effective(preference: Doc | None, defaults: dict[str, bool]) -> dict[str, bool]:
    """What applies to the agent: ``{email, push}``."""
    chosen = _new_visitor_message(preference)
    push = False if (preference or {}).get("muted") else chosen.get("push", defaults["push"])
    return {"email": chosen.get("email", defaults["email"]), "push": push}


async def agents_wants(ctx: Any, user_ids: list[str], workspace_id: str) -> dict[str, dict[str, bool]]:
    """Each agent's effective ``{email, push}`` for new visitor messages in the workspace (defaults read once)."""
    defaults = defaults_of(await workspace_defaults_row(ctx, workspace_id))
    return {user_id: effective(await preference_row(ctx, user_id, workspace_id), defaults) for user_id in user_ids}


def merged_events(row: Doc | None, args: dict) -> dict | None:
    """The row's ``events`` with the call's ``newVisitorMessageEmail/Push`` applied (None when nothing is set)."""
    chosen = dict(_new_visitor_message(row))
    for channel, arg in (("email", "newVisitorMessageEmail"), ("push", "newVisitorMessagePush")):
        if arg in args:
            chosen[channel] = args[arg]
    return {**((row or {}).get("events") or {}), "newVisitorMessage": chosen} if chosen else None
