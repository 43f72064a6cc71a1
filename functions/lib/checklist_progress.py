"""Checklist progress: a visitor's completed tasks, and the tasks that complete themselves.

``auto_event`` tasks complete when a tracked event has their ``completionEvent`` name;
``auto_attribute`` tasks when the visitor's custom attribute satisfies the task's condition
(``equals`` strictly, ``is_set``, ``greater_than``/``less_than`` on numbers; other operators never
complete). A progress row's ``completedAt`` is set exactly while every task is done.
"""

from typing import Any

from runtime import UNDEFINED

from .audience import compare
from .clock import now_ms
from .identity import Doc

_ATTRIBUTE_OPERATORS = ("equals", "is_set", "greater_than", "less_than")
_ABSENT = object()


async def progress_of(ctx: Any, visitor_id: str, checklist_id: str) -> Doc | None:
    """The visitor's progress row for the checklist, or None."""
    return await (
        ctx.db.query("checklistProgress")
        .with_index("by_visitor_checklist", lambda q: q.eq("visitorId", visitor_id).eq("checklistId", checklist_id))
        .first()
    )


def _attribute_done(task: Doc, visitor: Doc) -> bool:
    condition = task.get("completionAttribute")
    if not condition or condition["operator"] not in _ATTRIBUTE_OPERATORS:
        return False
    actual = (visitor.get("customAttributes") or {}).get(condition["key"], _ABSENT)
    if actual is _ABSENT:
        return False
    if condition["operator"] == "is_set":
        return actual is not None
    return compare(condition["operator"], actual, condition.get("value"))


def automatically_done(checklist: Doc, done: set[str], visitor: Doc, event_name: str | None) -> list[str]:
    """Ids of the not-yet-done automatic tasks that the event or the visitor's attributes complete."""
    finished = []
    for task in checklist["tasks"]:
        if task["id"] in done:
            continue
        by_event = task["completionType"] == "auto_event" and bool(event_name) and task.get("completionEvent") == event_name
        if by_event or (task["completionType"] == "auto_attribute" and _attribute_done(task, visitor)):
            finished.append(task["id"])
    return finished


async def save_progress(ctx: Any, checklist: Doc, visitor_id: str, progress: Doc | None, done: list[str]) -> Doc:
    """Store ``done`` as the visitor's completed task ids (creating the row); returns the row as stored."""
    all_done = {task["id"] for task in checklist["tasks"]} <= set(done)
    now = now_ms()
    if progress is None:
        row = {"visitorId": visitor_id, "checklistId": checklist["_id"], "completedTaskIds": done, "startedAt": now}
        row_id = await ctx.db.insert("checklistProgress", {**row, "completedAt": now if all_done else UNDEFINED})
        return await ctx.db.get(row_id)
    completed_at = (progress.get("completedAt") or now) if all_done else UNDEFINED
    await ctx.db.patch(progress["_id"], {"completedTaskIds": done, "completedAt": completed_at})
    return await ctx.db.get(progress["_id"])
