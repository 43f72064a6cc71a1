"""Audit logs: what happened in a workspace, who did it, and how long the record is kept.

Readers need ``audit.read`` (owners, admins and viewers); retention is a security setting
(``settings.security``) of 30, 90 or 365 days, 90 when never set. Every day the
``audit log retention`` cron (``functions/crons.py``) runs ``sweepRetention``, which starts one
``cleanupOldLogs`` per workspace; each deletes the entries older than its workspace's window.
"""

from typing import Any

from runtime import internal_mutation, mutation, query, v

from .lib.audit import record_audit
from .lib.audit_export import export_row, to_csv
from .lib.clock import DAY_MS, now_ms
from .lib.errors import INVALID_INPUT, fail
from .lib.identity import current_user, require_user
from .lib.permissions import require_permission, signed_in_member

READ = "audit.read"
SECURITY = "settings.security"
RETENTION_CHOICES = (30.0, 90.0, 365.0)
DEFAULT_RETENTION_DAYS = 90.0
DEFAULT_LIST_LIMIT = 100
LIST_SCAN_FACTOR = 4  # logs fetched per requested row before the in-memory filters
ACTIONS_SCAN = 1000
DEFAULT_CLEANUP_BATCH = 100
WORKSPACES_PER_SWEEP = 200  # cleanups one sweep transaction schedules before continuing in another


async def _settings_row(ctx: Any, workspace_id: str) -> dict | None:
    return (
        await ctx.db.query("auditLogSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


async def _retention_days(ctx: Any, workspace_id: str) -> float:
    row = await _settings_row(ctx, workspace_id)
    return row["retentionDays"] if row is not None else DEFAULT_RETENTION_DAYS


def _matches(log: dict, args: dict) -> bool:
    for field in ("action", "actorId", "resourceType", "resourceId"):
        if field in args and log.get(field) != args[field]:
            return False
    return "endTime" not in args or log["timestamp"] <= args["endTime"]


_FILTERS = {
    "workspaceId": v.id("workspaces"),
    "action": v.optional(v.string()),
    "actorId": v.optional(v.id("users")),
    "resourceType": v.optional(v.string()),
    "resourceId": v.optional(v.string()),
    "startTime": v.optional(v.number()),
    "endTime": v.optional(v.number()),
}


@query(args={**_FILTERS, "limit": v.optional(v.number())})
async def list_(ctx, args):
    """Newest-first entries matching the filters, with ``actorName``/``actorEmail``."""
    if await current_user(ctx) is None:
        return []
    await require_permission(ctx, args["workspaceId"], READ)
    limit = max(int(args.get("limit", DEFAULT_LIST_LIMIT)), 0)
    start = args.get("startTime", 0.0)
    recent = await (
        ctx.db.query("auditLogs")
        .with_index(
            "by_workspace_timestamp", lambda q: q.eq("workspaceId", args["workspaceId"]).gte("timestamp", start)
        )
        .order("desc")
        .take(limit * LIST_SCAN_FACTOR)
    )
    rows = []
    for log in [log for log in recent if _matches(log, args)][:limit]:
        actor = await ctx.db.get(log["actorId"]) if "actorId" in log else None
        rows.append({**log, "actorName": (actor or {}).get("name"), "actorEmail": (actor or {}).get("email")})
    return rows


@query(args={"workspaceId": v.id("workspaces")})
async def getActions(ctx, args):
    """The distinct action names among the workspace's first 1000 entries, sorted."""
    if await current_user(ctx) is None:
        return []
    await require_permission(ctx, args["workspaceId"], READ)
    logs = (
        await ctx.db.query("auditLogs")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .take(ACTIONS_SCAN)
    )
    return sorted({log["action"] for log in logs})


@query(args={"workspaceId": v.id("workspaces")})
async def getSettings(ctx, args):
    """The retention settings (a 90-day default row when never set)."""
    if await current_user(ctx) is None:
        return None
    await require_permission(ctx, args["workspaceId"], SECURITY)
    row = await _settings_row(ctx, args["workspaceId"])
    if row is not None:
        return row
    return {
        "workspaceId": args["workspaceId"],
        "retentionDays": DEFAULT_RETENTION_DAYS,
        "createdAt": 0.0,
        "updatedAt": 0.0,
    }


@mutation(args={"workspaceId": v.id("workspaces"), "retentionDays": v.number()})
async def updateSettings(ctx, args):
    """Set the retention to 30, 90 or 365 days."""
    await require_user(ctx, "Unauthorized")
    agent = await require_permission(ctx, args["workspaceId"], SECURITY)
    if args["retentionDays"] not in RETENTION_CHOICES:
        fail(INVALID_INPUT, "Retention days must be 30, 90, or 365")
    now = now_ms()
    row = await _settings_row(ctx, args["workspaceId"])
    previous = row["retentionDays"] if row is not None else DEFAULT_RETENTION_DAYS
    if row is not None:
        await ctx.db.patch(row["_id"], {"retentionDays": args["retentionDays"], "updatedAt": now})
    else:
        await ctx.db.insert(
            "auditLogSettings",
            {
                "workspaceId": args["workspaceId"],
                "retentionDays": args["retentionDays"],
                "createdAt": now,
                "updatedAt": now,
            },
        )
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="workspace.security.changed",
        resource_type="auditLogSettings",
        resource_id=args["workspaceId"],
        actor_id=agent.id,
        metadata={"setting": "retentionDays", "oldValue": previous, "newValue": args["retentionDays"]},
    )
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces")})
async def getAccess(ctx, args):
    """What the caller may do with audit logs: ``{status, canRead, canExport, canManageSecurity}``."""
    if await current_user(ctx) is None:
        return {"status": "unauthenticated", "canRead": False, "canExport": False, "canManageSecurity": False}
    agent = await signed_in_member(ctx, args["workspaceId"])
    return {
        "status": "ok",
        "canRead": agent is not None and agent.can(READ),
        "canExport": agent is not None and agent.can("data.export"),
        "canManageSecurity": agent is not None and agent.can(SECURITY),
    }


@internal_mutation(args={"cursor": v.optional(v.union(v.string(), v.null()))})
async def sweepRetention(ctx, args):
    """Start the retention cleanup of every workspace, a page of workspaces per transaction."""
    page = await ctx.db.query("workspaces").paginate({"numItems": WORKSPACES_PER_SWEEP, "cursor": args.get("cursor")})
    for workspace in page["page"]:
        await ctx.scheduler.run_after(0, "auditLogs:cleanupOldLogs", {"workspaceId": workspace["_id"]})
    if not page["isDone"]:
        await ctx.scheduler.run_after(0, "auditLogs:sweepRetention", {"cursor": page["continueCursor"]})
    return {"scheduled": float(len(page["page"])), "isDone": page["isDone"]}


@internal_mutation(args={"workspaceId": v.id("workspaces"), "batchSize": v.optional(v.number())})
async def cleanupOldLogs(ctx, args):
    """Delete up to ``batchSize`` entries older than the retention window: ``{deleted, hasMore}``.

    While expired entries remain it continues at once, in a new transaction.
    """
    workspace_id = args["workspaceId"]
    if await ctx.db.get(workspace_id) is None:
        return {"deleted": 0.0, "hasMore": False}
    batch = int(args.get("batchSize", DEFAULT_CLEANUP_BATCH))
    cutoff = now_ms() - await _retention_days(ctx, workspace_id) * DAY_MS
    expired = await (
        ctx.db.query("auditLogs")
        .with_index("by_workspace_timestamp", lambda q: q.eq("workspaceId", workspace_id).lt("timestamp", cutoff))
        .take(batch + 1)
    )
    for log in expired[:batch]:
        await ctx.db.delete(log["_id"])
    has_more = len(expired) > batch
    if has_more:
        await ctx.scheduler.run_after(0, "auditLogs:cleanupOldLogs", args)
    return {"deleted": float(min(len(expired), batch)), "hasMore": has_more}


EXPORT_LIMIT = 5000  # entries one export returns
EXPORT_DEFAULT_WINDOW_MS = 30 * DAY_MS


@query(args={**_FILTERS, "format": v.optional(v.union(v.literal("json"), v.literal("csv")))})
async def exportLogs(ctx, args):
    """``{format, data, count, truncated}``: the entries of the window (default the last 30 days), oldest first.

    Needs ``data.export``. At most 5,000 entries (Opencom returns every one); the caller records
    the export with ``logExport``.
    """
    await require_permission(ctx, args["workspaceId"], "data.export")
    end = args.get("endTime", now_ms())
    start = args.get("startTime", end - EXPORT_DEFAULT_WINDOW_MS)
    window = ctx.db.query("auditLogs").with_index(
        "by_workspace_timestamp",
        lambda q: q.eq("workspaceId", args["workspaceId"]).gte("timestamp", start).lte("timestamp", end),
    )
    rows, actors, truncated = [], {}, False
    async for log in window:
        if not _matches(log, args):
            continue
        if len(rows) == EXPORT_LIMIT:
            truncated = True
            break
        actor_id = log.get("actorId")
        if actor_id is not None and actor_id not in actors:
            actors[actor_id] = await ctx.db.get(actor_id)
        rows.append(export_row(log, actors.get(actor_id)))
    data = to_csv(rows) if args.get("format") == "csv" else rows
    return {"format": args.get("format", "json"), "data": data, "count": float(len(rows)), "truncated": truncated}


@mutation(args={"workspaceId": v.id("workspaces"), "exportType": v.string(), "recordCount": v.number()})
async def logExport(ctx, args):
    """Record that the caller exported ``recordCount`` entries (``data.export``): ``{success: true}``."""
    agent = await require_permission(ctx, args["workspaceId"], "data.export")
    if args["recordCount"] < 0 or not args["exportType"].strip():
        fail(INVALID_INPUT, "exportType and a non-negative recordCount are required")
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="data.exported",
        resource_type=args["exportType"],
        actor_id=agent.id,
        metadata={"recordCount": args["recordCount"]},
    )
    return {"success": True}
