"""Series: multi-step journeys (waits, messages, tags, branches) visitors enter on events or changes.

Authoring needs ``settings.workspace``. ``activate`` refuses a series whose readiness has blockers
(``SERIES_READINESS_BLOCKED`` with ``blockers`` and ``warnings``). The runtime lives in
``lib/series_runtime``; events and identification reach it through ``lib/series_triggers``. The
API reference's names (``deactivate``, ``readiness``, ``getProgress``, ``listProgress``) and
Opencom's (``pause``, ``getReadiness``, ``getStats``, ``getWithBlocks``, ``getTelemetry``) are both served.
"""

from runtime import ConvexError, internal_mutation, internal_query, mutation, query, v

from .lib.audience import validate_rules
from .lib.authoring import clamp_limit, copy_name, list_by_status, managed, readable, set_status
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import require_user
from .lib.permissions import require_permission
from .lib.series_graph import GRAPH_LIMIT, Graph
from .lib.series_readiness import readiness as check_readiness
from .lib.series_runtime import EMPTY_STATS, enroll, process, process_due, resume_for_event
from .lib.series_telemetry import COUNTERS as TELEMETRY_COUNTERS

MANAGE = "settings.workspace"
LIST_LIMIT, MAX_LIST_LIMIT = 100, 500
PROGRESS_LIMIT, MAX_PROGRESS_LIMIT = 5000, 20000
HISTORY_LIMIT = 500
DELETE_LIMIT = 2000  # progress rows (with their history) removed with a series in one call
series_status = v.union(*(v.literal(s) for s in ("draft", "active", "paused", "archived")))
progress_status = v.union(*(v.literal(s) for s in ("active", "waiting", "completed", "exited", "goal_reached", "failed")))
block_type = v.union(*(v.literal(t) for t in ("rule", "wait", "email", "push", "chat", "post", "carousel", "tag")))
condition = v.union(v.literal("yes"), v.literal("no"), v.literal("default"))
position = v.object({"x": v.number(), "y": v.number()})
trigger = v.object(
    {
        "source": v.union(*(v.literal(s) for s in ("event", "auto_event", "visitor_attribute_changed", "visitor_state_changed"))),
        "eventName": v.optional(v.string()),
        "attributeKey": v.optional(v.string()),
        "fromValue": v.optional(v.string()),
        "toValue": v.optional(v.string()),
    }
)
SETTINGS = {
    "description": v.optional(v.string()),
    "entryTriggers": v.optional(v.array(trigger)),
    "entryRules": v.optional(v.any()),
    "exitRules": v.optional(v.any()),
    "goalRules": v.optional(v.any()),
}


def _settings(args: dict) -> dict:
    fields = {field: args[field] for field in ("name", *SETTINGS) if field in args}
    for field, what in (("entryRules", "entry rules"), ("exitRules", "exit rules"), ("goalRules", "goal rules")):
        if field in fields:
            fields[field] = validate_rules(fields[field], what)
    return fields


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), **SETTINGS})
async def create(ctx, args):
    """A draft series; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    return await ctx.db.insert("series", {"workspaceId": args["workspaceId"], **_settings(args), "status": "draft", "createdAt": now, "updatedAt": now})


@mutation(args={"id": v.id("series"), "name": v.optional(v.string()), **SETTINGS})
async def update(ctx, args):
    """Overwrite the given settings; returns the id."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    await ctx.db.patch(series["_id"], {**_settings(args), "updatedAt": now_ms()})
    return series["_id"]


@mutation(args={"id": v.id("series")})
async def remove(ctx, args):
    """Delete the series with its blocks, connections, progress, history and block counters."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    graph = await Graph.load(ctx, series["_id"])
    for doc in [*graph.blocks.values(), *graph.connections, *graph.dangling]:
        await ctx.db.delete(doc["_id"])
    progress = await ctx.db.query("seriesProgress").with_index("by_series", lambda q: q.eq("seriesId", series["_id"])).take(DELETE_LIMIT)
    for row in progress:
        async for entry in ctx.db.query("seriesProgressHistory").with_index("by_progress", lambda q, pid=row["_id"]: q.eq("progressId", pid)):
            await ctx.db.delete(entry["_id"])
        await ctx.db.delete(row["_id"])
    for row in await ctx.db.query("seriesBlockTelemetry").with_index("by_series", lambda q: q.eq("seriesId", series["_id"])).take(GRAPH_LIMIT):
        await ctx.db.delete(row["_id"])
    await ctx.db.delete(series["_id"])
    return None


async def _readiness(ctx, series: dict) -> dict:
    return await check_readiness(ctx, series, await Graph.load(ctx, series["_id"]))


@mutation(args={"id": v.id("series")})
async def activate(ctx, args):
    """Start enrolling visitors; SERIES_READINESS_BLOCKED (with blockers and warnings) when not ready."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    if (ctx.env.get("OPENCOM_ENABLE_SERIES_ORCHESTRATION") or "").lower() == "false":
        fail("SERIES_ORCHESTRATION_DISABLED_BY_GUARD", "Series orchestration runtime is currently disabled by guard.")
    report = await _readiness(ctx, series)
    if not report["isReady"]:
        codes = ", ".join(issue["code"] for issue in report["blockers"])
        raise ConvexError({"code": "SERIES_READINESS_BLOCKED", "message": f"Series is not ready: {codes}", **report})
    stats = {**EMPTY_STATS, **(series.get("stats") or {})}
    await ctx.db.patch(series["_id"], {"status": "active", "stats": stats, "updatedAt": now_ms()})
    return None


@mutation(args={"id": v.id("series")})
async def deactivate(ctx, args):
    """Stop the series (progress stays where it is and resumes on activation)."""
    await set_status(ctx, args["id"], "Series", MANAGE, "paused")


@mutation(args={"id": v.id("series")})
async def pause(ctx, args):
    """Opencom's name for ``deactivate``."""
    await set_status(ctx, args["id"], "Series", MANAGE, "paused")


@mutation(args={"id": v.id("series")})
async def archive(ctx, args):
    """Retire the series."""
    await set_status(ctx, args["id"], "Series", MANAGE, "archived")


@mutation(args={"id": v.id("series")})
async def duplicate(ctx, args):
    """A draft "<name> (Copy)" with the same blocks and connections; returns its id."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    now = now_ms()
    kept = {field: series[field] for field in ("description", "entryTriggers", "entryRules", "exitRules", "goalRules") if field in series}
    copy_id = await ctx.db.insert(
        "series", {"workspaceId": series["workspaceId"], "name": copy_name(series["name"]), **kept, "status": "draft", "createdAt": now, "updatedAt": now}
    )
    graph, renamed = await Graph.load(ctx, series["_id"]), {}
    for block in sorted(graph.blocks.values(), key=lambda b: b["_creationTime"]):
        fields = {"seriesId": copy_id, "type": block["type"], "position": block["position"], "config": block["config"]}
        renamed[block["_id"]] = await ctx.db.insert("seriesBlocks", {**fields, "createdAt": now, "updatedAt": now})
    for connection in graph.connections:
        fields = {"seriesId": copy_id, "fromBlockId": renamed[connection["fromBlockId"]], "toBlockId": renamed[connection["toBlockId"]]}
        if "condition" in connection:
            fields["condition"] = connection["condition"]
        await ctx.db.insert("seriesConnections", {**fields, "createdAt": now})
    return copy_id


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(series_status), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's series, newest first."""
    return await list_by_status(ctx, "series", args, MANAGE, LIST_LIMIT, MAX_LIST_LIMIT)


@query(args={"id": v.id("series")})
async def get(ctx, args):
    """The series, or null."""
    return await readable(ctx, args["id"], MANAGE)


@query(args={"id": v.id("series"), "blockLimit": v.optional(v.number()), "connectionLimit": v.optional(v.number())})
async def getWithBlocks(ctx, args):
    """The series with its ``blocks`` and ``connections`` (newest first), or null."""
    series = await readable(ctx, args["id"], MANAGE)
    if series is None:
        return None
    graph = await Graph.load(ctx, series["_id"])
    newest = lambda docs, limit: sorted(docs, key=lambda d: -d["_creationTime"])[: clamp_limit(limit, 500, GRAPH_LIMIT)]  # noqa: E731
    return {**series, "blocks": newest(graph.blocks.values(), args.get("blockLimit")),
            "connections": newest([*graph.connections, *graph.dangling], args.get("connectionLimit"))}  # fmt: skip


async def _readiness_of(ctx, series_id: str):
    await require_user(ctx)
    series = await ctx.db.get(series_id)
    if series is None:
        return None
    await require_permission(ctx, series["workspaceId"], MANAGE)
    return await _readiness(ctx, series)


@query(args={"id": v.id("series")})
async def readiness(ctx, args):
    """``{blockers, warnings, isReady}``: exactly what stops ``activate``; null for a missing series."""
    return await _readiness_of(ctx, args["id"])


@query(args={"id": v.id("series")})
async def getReadiness(ctx, args):
    """Opencom's name for ``readiness``."""
    return await _readiness_of(ctx, args["id"])


# --- blocks and connections ----------------------------------------------------------------------
async def _block_config(config: dict) -> dict:
    if config.get("rules") is not None:
        validate_rules(config["rules"], "block rules")
    return config


@mutation(args={"seriesId": v.id("series"), "type": block_type, "position": position, "config": v.any()})
async def addBlock(ctx, args):
    """Add a block (configuration is checked by ``readiness``, not here); returns its id."""
    series, _ = await managed(ctx, args["seriesId"], "Series", MANAGE)
    now = now_ms()
    fields = {"seriesId": series["_id"], "type": args["type"], "position": args["position"], "config": await _block_config(args["config"])}
    return await ctx.db.insert("seriesBlocks", {**fields, "createdAt": now, "updatedAt": now})


async def _managed_part(ctx, part_id: str, entity: str) -> dict:
    await require_user(ctx)
    part = await ctx.db.get(part_id)
    if part is None:
        not_found(entity)
    await managed(ctx, part["seriesId"], "Series", MANAGE)
    return part


@mutation(args={"id": v.id("seriesBlocks"), "position": v.optional(position), "config": v.optional(v.any())})
async def updateBlock(ctx, args):
    """Move or reconfigure a block; returns its id."""
    block = await _managed_part(ctx, args["id"], "Block")
    changes = {"position": args["position"]} if "position" in args else {}
    if "config" in args:
        changes["config"] = await _block_config(args["config"])
    await ctx.db.patch(block["_id"], {**changes, "updatedAt": now_ms()})
    return block["_id"]


@mutation(args={"id": v.id("seriesBlocks")})
async def removeBlock(ctx, args):
    """Delete a block and every connection from or to it."""
    block = await _managed_part(ctx, args["id"], "Block")
    for index in ("by_from_block", "by_to_block"):
        field = "fromBlockId" if index == "by_from_block" else "toBlockId"
        for connection in await ctx.db.query("seriesConnections").with_index(index, lambda q, f=field: q.eq(f, block["_id"])).collect():
            await ctx.db.delete(connection["_id"])
    await ctx.db.delete(block["_id"])
    return None


@mutation(args={"seriesId": v.id("series"), "fromBlockId": v.id("seriesBlocks"), "toBlockId": v.id("seriesBlocks"), "condition": v.optional(condition)})
async def addConnection(ctx, args):
    """Connect two blocks of the series; returns the connection id."""
    series, _ = await managed(ctx, args["seriesId"], "Series", MANAGE)
    ends = [await ctx.db.get(args["fromBlockId"]), await ctx.db.get(args["toBlockId"])]
    if any(end is None for end in ends):
        not_found("Block")
    if any(end["seriesId"] != series["_id"] for end in ends):
        fail(INVALID_INPUT, "Blocks must belong to the target series")
    fields = {"seriesId": series["_id"], "fromBlockId": args["fromBlockId"], "toBlockId": args["toBlockId"]}
    if "condition" in args:
        fields["condition"] = args["condition"]
    return await ctx.db.insert("seriesConnections", {**fields, "createdAt": now_ms()})


@mutation(args={"id": v.id("seriesConnections")})
async def removeConnection(ctx, args):
    """Delete a connection."""
    connection = await _managed_part(ctx, args["id"], "Connection")
    await ctx.db.delete(connection["_id"])
    return None


# --- progress ----------------------------------------------------------------------------------
@query(args={"seriesId": v.id("series"), "visitorId": v.id("visitors")})
async def getProgress(ctx, args):
    """The visitor's progress in the series with its ``history`` (oldest first), or null."""
    series = await readable(ctx, args["seriesId"], MANAGE)
    if series is None:
        return None
    rows = ctx.db.query("seriesProgress").with_index("by_visitor_series", lambda q: q.eq("visitorId", args["visitorId"]).eq("seriesId", series["_id"]))
    progress = await rows.first()
    if progress is None:
        return None
    history = ctx.db.query("seriesProgressHistory").with_index("by_progress", lambda q: q.eq("progressId", progress["_id"]))
    return {**progress, "history": await history.take(HISTORY_LIMIT)}


@query(args={"seriesId": v.id("series"), "status": v.optional(progress_status), "limit": v.optional(v.number())})
async def listProgress(ctx, args):
    """The series' progress rows (of one status when given), newest first."""
    series = await readable(ctx, args["seriesId"], MANAGE)
    if series is None:
        return []
    limit = clamp_limit(args.get("limit"), PROGRESS_LIMIT, MAX_PROGRESS_LIMIT)
    if "status" in args:
        index = ("by_status", lambda q: q.eq("seriesId", series["_id"]).eq("status", args["status"]))
    else:
        index = ("by_series", lambda q: q.eq("seriesId", series["_id"]))
    return await ctx.db.query("seriesProgress").with_index(*index).order("desc").take(limit)


@query(args={"id": v.id("series"), "scanLimit": v.optional(v.number())})
async def getStats(ctx, args):
    """Progress counts by status over up to ``scanLimit`` rows, completion and goal rates, ``truncated``."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    limit = clamp_limit(args.get("scanLimit"), PROGRESS_LIMIT, MAX_PROGRESS_LIMIT)
    rows = await ctx.db.query("seriesProgress").with_index("by_series", lambda q: q.eq("seriesId", series["_id"])).take(limit)
    counts = {name: float(sum(row["status"] == name for row in rows)) for name in ("active", "waiting", "completed", "exited", "goal_reached", "failed")}
    total = float(len(rows))
    return {
        "total": total, **{k: val for k, val in counts.items() if k != "goal_reached"}, "goalReached": counts["goal_reached"],
        "completionRate": counts["completed"] / total * 100 if total else 0.0,
        "goalRate": counts["goal_reached"] / total * 100 if total else 0.0,
        "truncated": len(rows) >= limit,
    }  # fmt: skip


@query(args={"id": v.id("series"), "limit": v.optional(v.number())})
async def getTelemetry(ctx, args):
    """Per-block counters (``lib/series_telemetry``), each with its block (null once removed), and their totals."""
    series, _ = await managed(ctx, args["id"], "Series", MANAGE)
    limit = clamp_limit(args.get("limit"), GRAPH_LIMIT // 4, GRAPH_LIMIT)
    rows = await ctx.db.query("seriesBlockTelemetry").with_index("by_series", lambda q: q.eq("seriesId", series["_id"])).order("desc").take(limit)
    graph = await Graph.load(ctx, series["_id"])
    totals = {name: float(sum(row[name] for row in rows)) for name in TELEMETRY_COUNTERS}
    return {"totals": totals, "blocks": [{**row, "block": graph.blocks.get(row["blockId"])} for row in rows]}


# --- runtime (internal) --------------------------------------------------------------------------
@internal_mutation(args={"workspaceId": v.id("workspaces"), "visitorId": v.id("visitors"), "triggerContext": v.optional(v.any())})
async def evaluateEnrollmentForVisitor(ctx, args):
    """Offer the visitor to every active series of the workspace: ``{evaluated, entered}``."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None or visitor["workspaceId"] != args["workspaceId"]:
        return {"evaluated": 0.0, "entered": 0.0}
    active = ctx.db.query("series").with_index("by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "active"))
    evaluated = entered = 0
    for series in await active.take(LIST_LIMIT):
        evaluated += 1
        entered += (await enroll(ctx, series, visitor, args.get("triggerContext")))["entered"]
    return {"evaluated": float(evaluated), "entered": float(entered)}


@internal_mutation(args={"seriesId": v.id("series"), "visitorId": v.id("visitors"), "triggerContext": v.optional(v.any())})
async def evaluateEntry(ctx, args):
    """Offer the visitor to one series: ``{entered, reason?, progressId?}``."""
    series = await ctx.db.get(args["seriesId"])
    if series is None:
        return {"entered": False, "reason": "series_not_found"}
    return await enroll(ctx, series, await ctx.db.get(args["visitorId"]), args.get("triggerContext"))


@internal_mutation(args={"progressId": v.id("seriesProgress")})
async def processProgress(ctx, args):
    """Advance one progress row (scheduled by waits, retries and the backstop)."""
    await process(ctx, args["progressId"])


@internal_mutation(args={"workspaceId": v.id("workspaces"), "visitorId": v.id("visitors"), "eventName": v.string()})
async def resumeWaitingForEvent(ctx, args):
    """Wake the visitor's progress waiting for the event: ``{matched, resumed}``."""
    return await resume_for_event(ctx, args["visitorId"], args["eventName"])


@internal_mutation(args={"limit": v.optional(v.number())})
async def processWaitingProgress(ctx, args):
    """Backstop (cron): schedule processing for waits whose wake-up was lost."""
    return await process_due(ctx, clamp_limit(args.get("limit"), 1000, 5000))


@internal_query(args={"seriesId": v.id("series")})
async def progressSummary(ctx, args):
    """Operators' view: how many progress rows the series has in each status."""
    counts: dict[str, float] = {}
    async for row in ctx.db.query("seriesProgress").with_index("by_series", lambda q: q.eq("seriesId", args["seriesId"])):
        counts[row["status"]] = counts.get(row["status"], 0.0) + 1
    return counts
