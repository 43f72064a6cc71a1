"""Running series: enrolling visitors, walking their progress through blocks, waits on the scheduler.

Invariants:

* A visitor enters a series at most once (any earlier progress row refuses the entry).
* A progress row is advanced only inside ``process``, one mutation: the blocks it executes, their
  history rows, their messages and the next scheduled wake-up commit together. A scheduled
  ``process`` that finds the row terminal, waiting for an event or not yet due does nothing, so a
  duplicate or late wake-up is harmless.
* A failed block is retried ``MAX_ATTEMPTS`` times in all, ``RETRY_BASE_MS`` × attempt apart, then
  the progress fails. Waits and retries are ``waiting`` rows with ``waitUntil``; a backstop cron
  (``process_due``) wakes any whose scheduled job was lost.
* ``series.stats`` counts progress rows by status: every status change moves one count.
* Each block's counters (``series_telemetry``) change in the transaction of the step they count.
"""

from typing import Any

from runtime import UNDEFINED

from .audience import Evaluation, resolve_targeting
from .clock import now_ms
from .identity import Doc
from .series_blocks import Step, execute
from .series_graph import Graph
from .series_telemetry import count

MAX_DEPTH = 50  # blocks one processing run executes before it continues in a new job
MAX_ATTEMPTS = 3
RETRY_BASE_MS = 30_000.0
PROCESS = "series:processProgress"
TERMINAL = frozenset({"completed", "exited", "goal_reached", "failed"})
STAT_NAMES = {"active": "active", "waiting": "waiting", "completed": "completed", "exited": "exited",
              "goal_reached": "goalReached", "failed": "failed"}  # fmt: skip
ENDED_AT = {"completed": "completedAt", "exited": "exitedAt", "goal_reached": "goalReachedAt", "failed": "failedAt"}
EMPTY_STATS = {"entered": 0.0, "active": 0.0, "waiting": 0.0, "completed": 0.0, "exited": 0.0, "goalReached": 0.0, "failed": 0.0}


def trigger_matches(series: Doc, context: dict | None) -> bool:
    """Whether a trigger context enters the series (one without triggers accepts any context)."""
    triggers = series.get("entryTriggers") or []
    if not triggers:
        return True
    if context is None:
        return False
    for trigger in triggers:
        if trigger["source"] != context.get("source"):
            continue
        if trigger["source"] in ("event", "auto_event"):
            if not trigger.get("eventName") or trigger["eventName"] == context.get("eventName"):
                return True
        elif all(trigger.get(key) is None or trigger[key] == context.get(key) for key in ("attributeKey", "fromValue", "toValue")):
            return True
    return False


async def _matches(ctx: Any, visitor: Doc, rules: Any) -> bool:
    if not rules:
        return False
    found, inline = await resolve_targeting(ctx, rules)
    return found and (not inline or await Evaluation(ctx, visitor, now_ms()).rule(inline))


async def enroll(ctx: Any, series: Doc, visitor: Doc | None, context: dict | None) -> dict:
    """Enter the visitor into the series when every entry condition holds: ``{entered, reason?, progressId?}``."""
    if series["status"] != "active":
        return {"entered": False, "reason": "series_not_active"}
    if not trigger_matches(series, context):
        return {"entered": False, "reason": "entry_trigger_not_matched"}
    if visitor is None:
        return {"entered": False, "reason": "visitor_not_found"}
    if visitor["workspaceId"] != series["workspaceId"]:
        return {"entered": False, "reason": "workspace_mismatch"}
    earlier = ctx.db.query("seriesProgress").with_index(
        "by_visitor_series", lambda q: q.eq("visitorId", visitor["_id"]).eq("seriesId", series["_id"])
    )
    if await earlier.first() is not None:
        return {"entered": False, "reason": "already_in_series"}
    if series.get("entryRules") and not await _matches(ctx, visitor, series["entryRules"]):
        return {"entered": False, "reason": "entry_rules_not_met"}
    entries = (await Graph.load(ctx, series["_id"])).entries()
    if len(entries) != 1:
        return {"entered": False, "reason": "invalid_entry_path"}
    context = context or {}
    key = "|".join(str(context.get(name) or "") for name in ("source", "eventName", "attributeKey", "fromValue", "toValue"))
    progress_id = await ctx.db.insert(
        "seriesProgress",
        {
            "visitorId": visitor["_id"], "seriesId": series["_id"], "currentBlockId": entries[0]["_id"], "status": "active",
            "attemptCount": 0.0, "idempotencyKeyContext": key, "lastTriggerSource": context.get("source", UNDEFINED),
            "lastTriggerEventName": context.get("eventName", UNDEFINED), "enteredAt": now_ms(),
        },
    )  # fmt: skip
    await _history(ctx, progress_id, entries[0]["_id"], "entered")
    stats = {**EMPTY_STATS, **(series.get("stats") or {})}
    stats["entered"] += 1
    stats["active"] += 1
    await ctx.db.patch(series["_id"], {"stats": stats})
    await process(ctx, progress_id)
    return {"entered": True, "progressId": progress_id}


async def _history(ctx: Any, progress_id: str, block_id: str, action: str, result: dict | None = None) -> None:
    row = {"progressId": progress_id, "blockId": block_id, "action": action, "createdAt": now_ms()}
    await ctx.db.insert("seriesProgressHistory", {**row, "result": result} if result else row)


async def _move(ctx: Any, series_id: str, progress: Doc, status: str, changes: dict | None = None) -> Doc:
    """Patch the progress (to ``status``), keeping the series' counts in step; returns the new row."""
    changes = dict(changes or {})
    if status != progress["status"]:
        series = await ctx.db.get(series_id)
        if series is not None:
            stats = {**EMPTY_STATS, **(series.get("stats") or {})}
            stats[STAT_NAMES[progress["status"]]] = max(0.0, stats[STAT_NAMES[progress["status"]]] - 1)
            stats[STAT_NAMES[status]] += 1
            await ctx.db.patch(series_id, {"stats": stats})
    if status in TERMINAL:
        changes |= {ENDED_AT[status]: now_ms(), "currentBlockId": UNDEFINED, "waitUntil": UNDEFINED, "waitEventName": UNDEFINED}
    changes["status"] = status
    await ctx.db.patch(progress["_id"], changes)
    updated = {**progress, **changes}
    return {key: value for key, value in updated.items() if value is not UNDEFINED}


async def process(ctx: Any, progress_id: str) -> None:
    """Advance one progress row as far as it can go now (see the module's invariants)."""
    progress = await ctx.db.get(progress_id)
    if progress is None:
        return
    series = await ctx.db.get(progress["seriesId"])
    if series is None or series["status"] != "active":
        return
    graph, series_id = await Graph.load(ctx, series["_id"]), series["_id"]
    for _ in range(MAX_DEPTH):
        if progress["status"] in TERMINAL:
            return
        now = now_ms()
        if progress["status"] == "waiting":
            if progress.get("waitEventName") or progress.get("waitUntil", 0) > now:
                return
            progress = await _wake(ctx, graph, series_id, progress)
            if progress["status"] in TERMINAL:
                return
        visitor = await ctx.db.get(progress["visitorId"])
        if visitor is None:
            await _move(ctx, series_id, progress, "failed", {"lastExecutionError": "Visitor not found"})
            return
        if series.get("exitRules") and await _matches(ctx, visitor, series["exitRules"]):
            if progress.get("currentBlockId"):
                await _history(ctx, progress_id, progress["currentBlockId"], "skipped", {"reason": "exit_rules_matched"})
                await count(ctx, series_id, progress["currentBlockId"], {"skipped": 1}, {"reason": "exit_rules_matched"})
            await _move(ctx, series_id, progress, "exited")
            return
        if series.get("goalRules") and await _matches(ctx, visitor, series["goalRules"]):
            if progress.get("currentBlockId"):
                await count(ctx, series_id, progress["currentBlockId"], {"skipped": 1}, {"reason": "goal_rules_matched"})
            await _move(ctx, series_id, progress, "goal_reached")
            return
        block = graph.blocks.get(progress.get("currentBlockId") or "")
        if block is None:
            await _move(ctx, series_id, progress, "completed")
            return
        step = await execute(ctx, graph, block, visitor, progress)
        await _count_step(ctx, series_id, block["_id"], step)
        if step.status == "failed":
            await _fail(ctx, series_id, progress, block, step.error or "failed")
            return
        if step.status == "waiting":
            wait = {"waitUntil": step.wait_until if step.wait_until is not None else UNDEFINED, "waitEventName": step.wait_event or UNDEFINED}
            await _move(ctx, series_id, progress, "waiting", {**wait, "lastBlockExecutedAt": now})
            if step.wait_until is not None:
                await ctx.scheduler.run_at(step.wait_until, PROCESS, {"progressId": progress_id})
            return
        await _history(ctx, progress_id, block["_id"], "completed", step.result)
        if step.next_block is None:
            await _move(ctx, series_id, progress, "completed")
            return
        progress = await _move(ctx, series_id, progress, "active", {"currentBlockId": step.next_block, "attemptCount": 0.0, "lastBlockExecutedAt": now})
    await ctx.scheduler.run_after(0, PROCESS, {"progressId": progress_id})  # a long run of instant blocks goes on later


async def _wake(ctx: Any, graph: Graph, series_id: str, progress: Doc) -> Doc:
    """A due waiting row: a finished wait block moves on; a block waiting for its retry runs again."""
    block = graph.blocks.get(progress.get("currentBlockId") or "")
    cleared = {"waitUntil": UNDEFINED, "waitEventName": UNDEFINED}
    if block is None or block["type"] != "wait":
        return await _move(ctx, series_id, progress, "active", cleared)
    await _history(ctx, progress["_id"], block["_id"], "completed")
    await count(ctx, series_id, block["_id"], {"completed": 1}, {"status": "wait_resumed"})
    following = graph.next_block(block["_id"])
    if following is None:
        return await _move(ctx, series_id, progress, "completed")
    return await _move(ctx, series_id, progress, "active", {**cleared, "currentBlockId": following})


async def _count_step(ctx: Any, series_id: str, block_id: str, step: Step) -> None:
    """One execution of a block: entered, its outcome, a message's delivery and a rule's branch."""
    counts = {
        "entered": 1, "completed": float(step.status == "completed"), "failed": float(step.status == "failed"),
        "deliveryAttempts": float(step.delivery_attempted), "deliveryFailures": float(step.delivery_failed),
    }  # fmt: skip
    if step.branch in ("yes", "no", "default"):
        counts[f"{step.branch}BranchCount"] = 1
    await count(ctx, series_id, block_id, counts, {"status": step.status, **({"error": step.error} if step.error else {})})


async def _fail(ctx: Any, series_id: str, progress: Doc, block: Doc, error: str) -> None:
    attempts = float(progress.get("attemptCount", 0) + 1)
    await _history(ctx, progress["_id"], block["_id"], "failed", {"error": error, "attempt": attempts})
    if attempts >= MAX_ATTEMPTS:
        await _move(ctx, series_id, progress, "failed", {"attemptCount": attempts, "lastExecutionError": error})
        return
    retry_at = now_ms() + RETRY_BASE_MS * attempts
    changes = {"attemptCount": attempts, "lastExecutionError": error, "waitUntil": retry_at}
    await _move(ctx, series_id, progress, "waiting", changes)
    await ctx.scheduler.run_at(retry_at, PROCESS, {"progressId": progress["_id"]})


async def resume_for_event(ctx: Any, visitor_id: str, event_name: str) -> dict:
    """Wake the visitor's progress rows waiting for ``event_name``: ``{matched, resumed}``."""
    waiting = ctx.db.query("seriesProgress").with_index("by_visitor_status", lambda q: q.eq("visitorId", visitor_id).eq("status", "waiting"))
    matched = resumed = 0
    for progress in await waiting.take(100):
        if progress.get("waitEventName") != event_name:
            continue
        matched += 1
        series = await ctx.db.get(progress["seriesId"])
        if series is None or series["status"] != "active":
            continue
        await _move(ctx, series["_id"], progress, "waiting", {"waitEventName": UNDEFINED, "waitUntil": now_ms()})
        await process(ctx, progress["_id"])
        resumed += 1
    return {"matched": float(matched), "resumed": float(resumed)}


async def process_due(ctx: Any, limit: int) -> dict:
    """Backstop: schedule processing for waiting rows whose time has come (a lost wake-up): ``{scanned}``."""
    due = ctx.db.query("seriesProgress").with_index("by_status_wait_until", lambda q: q.eq("status", "waiting").gte("waitUntil", 0).lte("waitUntil", now_ms()))
    rows = await due.take(limit)
    for progress in rows:
        await ctx.scheduler.run_after(0, PROCESS, {"progressId": progress["_id"]})
    return {"scanned": float(len(rows))}
