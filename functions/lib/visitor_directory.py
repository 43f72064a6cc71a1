"""The agents' visitor directory: who may browse it, presence, and the rows and details it shows.

Browsing needs ``users.read``; the visitor's conversations and tickets in a detail view need
``conversations.read`` too. Every list is bounded: the directory reads the 500 most recently
seen visitors (Opencom's window) and filters those; merge history reads the workspace's
``visitor.merged`` audit entries, newest first.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc, current_user
from .permissions import find_membership, permissions_of
from .readable_ids import readable_id
from .threads import newest_message

ONLINE_WINDOW_MS = 2 * 60 * 1000.0  # a visitor seen within this long counts as online
DIRECTORY_DEFAULT_LIMIT = 20
DIRECTORY_MAX_LIMIT = 50
DIRECTORY_SCAN_LIMIT = 500
LINKED_LIMIT = 10
MERGE_HISTORY_DEFAULT_LIMIT = 20
MERGE_HISTORY_MAX_LIMIT = 100
MERGE_HISTORY_SCAN_LIMIT = 2000  # merge entries read per history
MERGE_COUNTS = ("reassignedConversations", "reassignedSessions", "migratedPushTokens", "reassignedEvents")


def is_online(visitor: Doc, now: float | None = None) -> bool:
    """Whether the visitor was seen within the online window."""
    seen = visitor.get("lastSeenAt")
    return seen is not None and (now or now_ms()) - seen < ONLINE_WINDOW_MS


def directory_row(visitor: Doc, now: float) -> Doc:
    """The visitor with ``isOnline`` and ``lastActiveAt``."""
    last_active = visitor.get("lastSeenAt", visitor.get("firstSeenAt", visitor.get("createdAt")))
    return {**visitor, "isOnline": is_online(visitor, now), "lastActiveAt": last_active}


async def directory_access(ctx: Any, workspace_id: str) -> tuple[str, frozenset[str]]:
    """``("ok", permissions)`` for a member with ``users.read``; ``"unauthenticated"``/``"forbidden"`` otherwise."""
    user = await current_user(ctx)
    if user is None:
        return "unauthenticated", frozenset()
    membership = await find_membership(ctx, user["_id"], workspace_id)
    granted = permissions_of(membership) if membership is not None else frozenset()
    return ("ok" if "users.read" in granted else "forbidden"), granted


async def directory_visitor(ctx: Any, workspace_id: str, visitor_id: str) -> tuple[str, frozenset[str], Doc | None]:
    """``(status, permissions, visitor)``: the access status, or ``not_found``/``forbidden`` for the visitor."""
    status, granted = await directory_access(ctx, workspace_id)
    visitor = await ctx.db.get(visitor_id) if status == "ok" else None
    if status == "ok" and visitor is None:
        status = "not_found"
    elif visitor is not None and visitor["workspaceId"] != workspace_id:
        status = "forbidden"
    return status, granted, visitor


def matches(visitor: Doc, search: str) -> bool:
    """Whether a lower-case search term appears in the visitor's readable id, id, name, email or user id."""
    if not search:
        return True
    fields = (visitor.get("readableId") or readable_id(visitor["_id"]), visitor["_id"], visitor.get("name"),
              visitor.get("email"), visitor.get("externalUserId"))  # fmt: skip
    return any(search in value.lower() for value in fields if isinstance(value, str))


async def directory_page(ctx: Any, args: Doc) -> Doc:
    """One page of the directory: most recently seen first, filtered by search and presence."""
    limit = int(max(1, min(args.get("limit", DIRECTORY_DEFAULT_LIMIT), DIRECTORY_MAX_LIMIT)))
    offset = int(max(0, args.get("offset", 0)))
    search = (args.get("search") or "").strip().lower()
    presence = args.get("presence", "all")
    now = now_ms()
    recent = (
        await ctx.db.query("visitors")
        .with_index("by_workspace_last_seen", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .order("desc")
        .take(DIRECTORY_SCAN_LIMIT)
    )
    kept = [
        visitor
        for visitor in recent
        if matches(visitor, search) and (presence == "all" or is_online(visitor, now) == (presence == "online"))
    ]
    page = [directory_row(visitor, now) for visitor in kept[offset : offset + limit]]
    more = offset + limit < len(kept)
    return {"status": "ok", "visitors": page, "totalCount": float(len(kept)), "hasMore": more,
            "nextOffset": float(offset + limit) if more else None}  # fmt: skip


async def linked_resources(ctx: Any, workspace_id: str, visitor_id: str) -> tuple[list[Doc], list[Doc]]:
    """The visitor's 10 newest conversations (with a last-message preview) and tickets."""
    conversations = [
        row
        for row in await ctx.db.query("conversations")
        .with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
        .order("desc")
        .take(LINKED_LIMIT)
        if row["workspaceId"] == workspace_id
    ]
    linked_conversations = []
    for row in conversations:
        last = await newest_message(ctx, row["_id"])
        entry = {
            key: row[key] for key in ("_id", "status", "channel", "subject", "updatedAt", "lastMessageAt") if key in row
        }
        if last is not None:
            entry["lastMessagePreview"] = last["content"]
        linked_conversations.append(entry)
    tickets = await (
        ctx.db.query("tickets")
        .with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
        .order("desc")
        .take(LINKED_LIMIT)
    )
    linked_tickets = [
        {key: ticket[key] for key in ("_id", "subject", "status", "priority", "updatedAt")}
        for ticket in tickets
        if ticket["workspaceId"] == workspace_id
    ]
    return linked_conversations, linked_tickets


def merge_entry(log: Doc) -> Doc | None:
    """A ``visitor.merged`` audit entry as a merge-history row (None for anything else)."""
    metadata = log.get("metadata") or {}
    source, target = metadata.get("sourceVisitorId"), metadata.get("targetVisitorId") or log.get("resourceId")
    if log["action"] != "visitor.merged" or not isinstance(source, str) or not isinstance(target, str):
        return None
    return {
        "auditLogId": log["_id"],
        "sourceVisitorId": source,
        "sourceVisitorReadableId": metadata.get("sourceVisitorReadableId"),
        "targetVisitorId": target,
        "targetVisitorReadableId": metadata.get("targetVisitorReadableId"),
        "workspaceId": log["workspaceId"],
        "mergedAt": metadata.get("mergedAt", log["timestamp"]),
        "reason": metadata.get("reason", "email_match"),
        **{count: float(metadata.get(count, 0.0)) for count in MERGE_COUNTS},
    }
