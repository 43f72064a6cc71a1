"""Automation toggles of the messenger (article suggestions, reply time, email capture, CSAT).

Members read them (with defaults when never saved); ``settings.workspace`` changes them. The
widget reads them anonymously to decide what to show (reply time, email capture, CSAT), so anyone
else gets the four toggles alone.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.permissions import agent_with_permission, require_permission, signed_in_member

MANAGE = "settings.workspace"
DEFAULTS = {
    "suggestArticlesEnabled": False,
    "showReplyTimeEnabled": False,
    "collectEmailEnabled": True,
    "askForRatingEnabled": False,
}


async def _row(ctx: Any, workspace_id: str) -> dict | None:
    return (
        await ctx.db.query("automationSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


@query(args={"workspaceId": v.id("workspaces")})
async def get(ctx, args):
    """The saved settings (``settings.workspace``), or null."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return None
    return await _row(ctx, args["workspaceId"])


@query(args={"workspaceId": v.id("workspaces")})
async def getOrCreate(ctx, args):
    """The saved settings, or the defaults (unsaved), for members; the toggles alone for anyone else."""
    row = await _row(ctx, args["workspaceId"])
    if await signed_in_member(ctx, args["workspaceId"]) is None:
        return {flag: (row or DEFAULTS)[flag] for flag in DEFAULTS}
    if row is not None:
        return row
    now = now_ms()
    return {"workspaceId": args["workspaceId"], **DEFAULTS, "createdAt": now, "updatedAt": now}


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "suggestArticlesEnabled": v.optional(v.boolean()),
        "showReplyTimeEnabled": v.optional(v.boolean()),
        "collectEmailEnabled": v.optional(v.boolean()),
        "askForRatingEnabled": v.optional(v.boolean()),
    }
)
async def upsert(ctx, args):
    """Change the given toggles (the others keep their value or default); returns the row id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    changes = {flag: args[flag] for flag in DEFAULTS if flag in args}
    now = now_ms()
    row = await _row(ctx, args["workspaceId"])
    if row is not None:
        await ctx.db.patch(row["_id"], {**changes, "updatedAt": now})
        return row["_id"]
    return await ctx.db.insert(
        "automationSettings",
        {"workspaceId": args["workspaceId"], **DEFAULTS, **changes, "createdAt": now, "updatedAt": now},
    )
