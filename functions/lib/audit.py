"""Recording audit-log entries from any mutation (fail-open, as Opencom does), and their retention.

An audit write must never make the audited operation fail: a row the schema refuses (in practice,
metadata of the wrong shape) is kept in ``auditLogWriteFailures`` without its metadata, in the
same transaction.

Retention is enforced by a daily cron job (``functions/crons.py``), not here.
"""

from typing import Any

from .clock import now_ms


async def record_audit(
    ctx: Any,
    *,
    workspace_id: str,
    action: str,
    resource_type: str,
    actor_id: str | None = None,
    actor_type: str = "user",
    resource_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (``action`` is "<category>.<verb>", e.g. ``conversation.assigned``)."""
    entry: dict[str, Any] = {
        "workspaceId": workspace_id,
        "actorType": actor_type,
        "action": action,
        "resourceType": resource_type,
    }
    if actor_id is not None:
        entry["actorId"] = actor_id
    if resource_id is not None:
        entry["resourceId"] = resource_id
    if metadata is not None:
        entry["metadata"] = metadata
    try:
        await ctx.db.insert("auditLogs", {**entry, "timestamp": now_ms()})
    except Exception as error:  # noqa: BLE001 - auditing is fail-open by design
        entry.pop("metadata", None)
        await ctx.db.insert("auditLogWriteFailures", {**entry, "error": str(error), "createdAt": now_ms()})

