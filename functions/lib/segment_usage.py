"""Which targeted items of a workspace reference a saved segment (``{segmentId}`` targeting).

Tours, tooltips, surveys, outbound messages and checklists may target a segment; outbound messages
and checklists keep it in ``audienceRules`` or, as Opencom's API writes it, ``targeting``.
"""

from typing import Any

from .identity import Doc

# (usage type on the wire, table) in the order Opencom reports them; tooltips come last (not scanned by Opencom).
TARGETED_TABLES = (
    ("tour", "tours"),
    ("survey", "surveys"),
    ("outboundMessage", "outboundMessages"),
    ("checklist", "checklists"),
    ("tooltip", "tooltips"),
)


def stored_targeting(item: Doc) -> Any:
    """An item's audience: ``audienceRules``, else ``targeting`` (the field the public API writes)."""
    return item.get("audienceRules", item.get("targeting"))


async def segment_usage(ctx: Any, segment: Doc, limit: int | None = None) -> list[dict[str, str]]:
    """``[{type, id, name}]`` of the items targeting ``segment``, newest first per type, at most ``limit``."""
    usage: list[dict[str, str]] = []
    for kind, table in TARGETED_TABLES:
        items = ctx.db.query(table).with_index("by_workspace", lambda q: q.eq("workspaceId", segment["workspaceId"]))
        async for item in items.order("desc"):
            targeting = stored_targeting(item)
            if isinstance(targeting, dict) and targeting.get("segmentId") == segment["_id"]:
                usage.append({"type": kind, "id": item["_id"], "name": item["name"]})
                if limit is not None and len(usage) >= limit:
                    return usage
    return usage
