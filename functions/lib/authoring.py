"""What the dashboard's authoring functions share: loading an item the caller may manage, list limits.

Every id-based authoring call checks the caller is signed in before looking the id up, so a
stranger learns nothing (not even existence) from the error; then the item's workspace decides
the permission.
"""

import math
from typing import Any

from .clock import now_ms
from .errors import not_found
from .identity import Doc, require_user
from .permissions import Agent, agent_with_permission, require_permission


async def managed(ctx: Any, doc_id: str, entity: str, permission: str) -> tuple[Doc, Agent]:
    """The document and the agent holding ``permission`` in its workspace; NOT_FOUND "<entity> not found"."""
    await require_user(ctx)
    doc = await ctx.db.get(doc_id)
    if doc is None:
        not_found(entity)
    return doc, await require_permission(ctx, doc["workspaceId"], permission)


async def readable(ctx: Any, doc_id: str, permission: str) -> Doc | None:
    """The document when the caller holds ``permission`` in its workspace, else None (soft reads)."""
    doc = await ctx.db.get(doc_id)
    if doc is None or await agent_with_permission(ctx, doc["workspaceId"], permission) is None:
        return None
    return doc


def clamp_limit(limit: float | None, default: int, maximum: int) -> int:
    """A list limit: absent, non-finite or non-positive means ``default``; never above ``maximum``."""
    if limit is None or not math.isfinite(limit) or limit <= 0:
        return default
    return min(int(limit), maximum)


def copy_name(name: str) -> str:
    """The name of a duplicate."""
    return f"{name} (Copy)"


async def set_status(ctx: Any, doc_id: str, entity: str, permission: str, status: str, ready: Any = None) -> Doc:
    """Move a managed item to ``status`` (after ``ready(doc)``, which may refuse); returns the item as it was."""
    doc, _ = await managed(ctx, doc_id, entity, permission)
    if ready is not None:
        ready(doc)
    await ctx.db.patch(doc["_id"], {"status": status, "updatedAt": now_ms()})
    return doc
