"""Checklist tasks that complete themselves: run after an event is tracked, never inside ``events:track``.

For each active checklist that targets the visitor, an ``auto_event`` task completes when the event
name matches, an ``auto_attribute`` task when the visitor's custom attribute satisfies the task's
condition (``equals`` strictly, ``is_set``, ``greater_than``/``less_than`` on numbers). Completed
task ids are appended to the visitor's progress, and ``completedAt`` is set once every task is done.
"""

from typing import Any

from runtime import internal_mutation, v

from .lib.audience import compare, matches_targeting
from .lib.clock import now_ms
from .lib.segment_usage import stored_targeting

_ATTRIBUTE_OPERATORS = ("equals", "is_set", "greater_than", "less_than")
_MISSING_ATTRIBUTE = object()


def _attribute_done(task: dict, visitor: dict) -> bool:
    condition = task.get("completionAttribute")
    if not condition or condition["operator"] not in _ATTRIBUTE_OPERATORS:
        return False
    actual = (visitor.get("customAttributes") or {}).get(condition["key"], _MISSING_ATTRIBUTE)
    if actual is _MISSING_ATTRIBUTE:
        return False
    if condition["operator"] == "is_set":
        return actual is not None
    return compare(condition["operator"], actual, condition.get("value"))


def _newly_done(checklist: dict, done: set[str], visitor: dict, event_name: str | None) -> list[str]:
    finished = []
    for task in checklist["tasks"]:
        if task["id"] in done:
            continue
        if task["completionType"] == "auto_event" and event_name and task.get("completionEvent") == event_name:
            finished.append(task["id"])
        elif task["completionType"] == "auto_attribute" and _attribute_done(task, visitor):
            finished.append(task["id"])
    return finished


async def _record(ctx: Any, checklist: dict, visitor_id: str, progress: dict | None, finished: list[str]) -> None:
    now = now_ms()
    done = [*(progress["completedTaskIds"] if progress else []), *finished]
    complete = {task["id"] for task in checklist["tasks"]} <= set(done)
    fields = {"completedTaskIds": done, **({"completedAt": now} if complete else {})}
    if progress is None:
        await ctx.db.insert("checklistProgress", {"visitorId": visitor_id, "checklistId": checklist["_id"], "startedAt": now, **fields})
    else:
        await ctx.db.patch(progress["_id"], fields)


@internal_mutation(args={"visitorId": v.id("visitors"), "workspaceId": v.id("workspaces"), "eventName": v.optional(v.string())})
async def checkAutoCompletion(ctx, args):
    """Complete the visitor's automatic checklist tasks that the event (or its attributes) satisfy."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None or visitor["workspaceId"] != args["workspaceId"]:
        return None
    now = now_ms()
    checklists = ctx.db.query("checklists").with_index(
        "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "active")
    )
    async for checklist in checklists:
        if not await matches_targeting(ctx, stored_targeting(checklist), visitor, now):
            continue
        progress = await (
            ctx.db.query("checklistProgress")
            .with_index("by_visitor_checklist", lambda q: q.eq("visitorId", visitor["_id"]).eq("checklistId", checklist["_id"]))
            .first()
        )
        finished = _newly_done(checklist, set(progress["completedTaskIds"]) if progress else set(), visitor, args.get("eventName"))
        if finished:
            await _record(ctx, checklist, visitor["_id"], progress, finished)
    return None
