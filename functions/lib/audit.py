"""Recording audit-log entries from any mutation (fail-open, as Opencom does), and their retention.

An audit write must never make the audited operation fail: a row the schema refuses (in practice,
metadata of the wrong shape) is kept in ``auditLogWriteFailures`` without its metadata, in the
same transaction.

Retention is enforced by one scheduled job per workspace (``auditLogs:cleanupOldLogs``), armed
when the workspace is created and re-arming itself every day.
"""

from typing import Any

from .clock import DAY_MS, now_ms

RETENTION_JOB = "auditLogs:cleanupOldLogs"
_RETENTION_JOB_NAME = "auditLogs.js:cleanupOldLogs"  # how the scheduler names it in _scheduled_functions
RETENTION_SWEEP_INTERVAL_MS = DAY_MS


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


async def _sweep_pending(ctx: Any, workspace_id: str) -> bool:
    jobs = ctx.db.system.query("_scheduled_functions").filter(lambda q: q.eq(q.field("state.kind"), "pending"))
    async for job in jobs:
        if job["name"] == _RETENTION_JOB_NAME and job["args"][0].get("workspaceId") == workspace_id:
            return True
    return False


async def schedule_retention(ctx: Any, workspace_id: str, delay_ms: float = RETENTION_SWEEP_INTERVAL_MS) -> None:
    """Arm the workspace's next audit-log retention sweep, unless one is already waiting."""
    if not await _sweep_pending(ctx, workspace_id):
        await ctx.scheduler.run_after(delay_ms, RETENTION_JOB, {"workspaceId": workspace_id})
