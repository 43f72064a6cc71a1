"""Merging a visitor into the earliest visitor of its workspace that already has the same email.

When a visitor identifies with an email another visitor already carries, the older visitor is the
canonical one: the newcomer's conversations, widget sessions, events and push tokens move to it
(so the newcomer's token keeps working and now stands for the canonical visitor), its profile
fills the canonical visitor's gaps, and the newcomer is deleted. The merge is audited.
"""

from typing import Any

from .audit import record_audit
from .clock import now_ms
from .identity import Doc
from .visitor_profile import PROFILE_FIELDS, ensure_readable_id, is_empty


async def canonical_visitor_for_email(
    ctx: Any, workspace_id: str, email: str, exclude_id: str | None = None
) -> Doc | None:
    """The earliest-created visitor of the workspace (other than ``exclude_id``) whose email is exactly ``email``."""
    matches = await (
        ctx.db.query("visitors")
        .with_index("by_email", lambda q: q.eq("workspaceId", workspace_id).eq("email", email))
        .collect()
    )
    candidates = [visitor for visitor in matches if visitor["_id"] != exclude_id]
    if not candidates:
        return None
    return min(candidates, key=lambda visitor: (visitor["createdAt"], visitor["_creationTime"], visitor["_id"]))


async def _repoint(ctx: Any, table: str, source_id: str, target_id: str, workspace_id: str) -> int:
    rows = await ctx.db.query(table).with_index("by_visitor", lambda q: q.eq("visitorId", source_id)).collect()
    moved = 0
    for row in rows:
        if row["workspaceId"] == workspace_id:
            await ctx.db.patch(row["_id"], {"visitorId": target_id})
            moved += 1
    return moved


async def _migrate_push_tokens(ctx: Any, source_id: str, target_id: str) -> int:
    source_tokens = (
        await ctx.db.query("visitorPushTokens")
        .with_index("by_visitor", lambda q: q.eq("visitorId", source_id))
        .collect()
    )
    target_tokens = (
        await ctx.db.query("visitorPushTokens")
        .with_index("by_visitor", lambda q: q.eq("visitorId", target_id))
        .collect()
    )
    by_token = {row["token"]: row for row in target_tokens}
    for row in source_tokens:
        existing = by_token.get(row["token"])
        if existing is None:
            await ctx.db.patch(row["_id"], {"visitorId": target_id, "updatedAt": now_ms()})
            continue
        if row.get("notificationsEnabled") is not False and existing.get("notificationsEnabled") is False:
            await ctx.db.patch(existing["_id"], {"notificationsEnabled": True, "updatedAt": now_ms()})
        await ctx.db.delete(row["_id"])
    return len(source_tokens)


async def merge_visitor(ctx: Any, source: Doc, canonical: Doc, args: dict[str, Any]) -> Doc:
    """Fold ``source`` into ``canonical`` (see the module docstring); returns the canonical document."""
    workspace_id = canonical["workspaceId"]
    now = now_ms()
    conversations = await _repoint(ctx, "conversations", source["_id"], canonical["_id"], workspace_id)
    sessions = await _repoint(ctx, "widgetSessions", source["_id"], canonical["_id"], workspace_id)
    events = await _repoint(ctx, "events", source["_id"], canonical["_id"], workspace_id)
    push_tokens = await _migrate_push_tokens(ctx, source["_id"], canonical["_id"])

    canonical = await ensure_readable_id(ctx, canonical)
    patch: dict[str, Any] = {"lastSeenAt": now}
    for field in PROFILE_FIELDS:
        if field == "email":
            continue
        if not is_empty(args.get(field)):
            patch[field] = args[field]
        elif is_empty(canonical.get(field)) and not is_empty(source.get(field)):
            patch[field] = source[field]
    attributes = {
        **(source.get("customAttributes") or {}),
        **(canonical.get("customAttributes") or {}),
        **(args.get("customAttributes") or {}),
    }
    if attributes:
        patch["customAttributes"] = attributes
    await ctx.db.patch(canonical["_id"], patch)
    await ctx.db.delete(source["_id"])

    await record_audit(
        ctx,
        workspace_id=workspace_id,
        action="visitor.merged",
        resource_type="visitor",
        resource_id=canonical["_id"],
        actor_type="api",
        metadata={
            "sourceVisitorId": source["_id"],
            "sourceVisitorReadableId": source.get("readableId"),
            "targetVisitorId": canonical["_id"],
            "targetVisitorReadableId": canonical["readableId"],
            "workspaceId": workspace_id,
            "reason": "email_match",
            "mergedAt": now,
            "reassignedConversations": float(conversations),
            "reassignedSessions": float(sessions),
            "migratedPushTokens": float(push_tokens),
            "reassignedEvents": float(events),
        },
    )
    return await ctx.db.get(canonical["_id"])
