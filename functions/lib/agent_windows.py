"""Agents' debounce windows: one row per scope (a conversation, a ticket) and channel, not one per agent.

Within ``DEBOUNCE_MS`` of a scope's last delivery, a burst of events reaches the in-app feed but sends
no agent anything more. The window's ``notificationDedupeKeys`` row says whom it already covers:
every member (``EVERYONE``) or a list of agents. So an event inside a window that covers its
audience reads two rows and schedules nothing, however many agents the workspace has; only agents
the window does not cover yet are due (and join it), and an event after the window reopens it.
A window covers an agent who joins it late only until the window's end.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc

DEBOUNCE_MS = 60_000.0
MAX_AGENTS = 50  # members one event notifies
CHANNELS = ("email", "push")
EVERYONE = "all"

Audience = str | list[str]  # EVERYONE, or these agents


async def members(ctx: Any, workspace_id: str) -> list[str]:
    """The user ids of the workspace's members (the first ``MAX_AGENTS``)."""
    rows = ctx.db.query("workspaceMembers").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
    return [member["userId"] for member in await rows.take(MAX_AGENTS)]


def window_key(scope: str, channel: str) -> str:
    return f"{scope}:agents:{channel}"


async def dedupe_row(ctx: Any, key: str) -> Doc | None:
    """The ``notificationDedupeKeys`` row of ``key`` (a window), or None."""
    return (
        await ctx.db.query("notificationDedupeKeys")
        .with_index("by_dedupe_key", lambda q: q.eq("dedupeKey", key))
        .first()
    )


async def claim_windows(
    ctx: Any, event_id: str, scope: str, workspace_id: str, only: list[str] | None
) -> dict[str, Audience]:
    """Open or widen ``scope``'s windows for ``only`` (None: every member); the agents now due, by channel.

    A channel whose open window already covers the audience is left out of the answer.
    """
    now = now_ms()
    due: dict[str, Audience] = {}
    for channel in CHANNELS:
        key = window_key(scope, channel)
        row = await dedupe_row(ctx, key)
        covered: Audience = row.get("agents", []) if row is not None and now - row["createdAt"] < DEBOUNCE_MS else []
        if covered == EVERYONE:
            continue
        if covered and only is None:
            fresh: Audience = [user_id for user_id in await members(ctx, workspace_id) if user_id not in covered]
        else:
            fresh = EVERYONE if only is None else [user_id for user_id in dict.fromkeys(only) if user_id not in covered]
        if not fresh:
            continue
        due[channel] = fresh
        agents = EVERYONE if only is None else [*covered, *fresh]
        if row is None:
            fields = {"workspaceId": workspace_id, "channel": channel, "recipientType": "agent", "dedupeKey": key}
            await ctx.db.insert(
                "notificationDedupeKeys",
                {**fields, "eventId": event_id, "eventKey": key, "agents": agents, "createdAt": now},
            )
        elif covered:
            await ctx.db.patch(row["_id"], {"agents": agents})
        else:
            await ctx.db.patch(row["_id"], {"eventId": event_id, "eventKey": key, "agents": agents, "createdAt": now})
    return due


def agents_of(audience: Audience | None, everyone: list[str], actor_user_id: str | None) -> list[str]:
    """The agents an ``audience`` names (``everyone``: the members), never the actor."""
    if audience is None:
        return []
    return [user_id for user_id in (everyone if audience == EVERYONE else audience) if user_id != actor_user_id]
