"""Checklists: onboarding task lists shown to targeted visitors, with per-visitor progress (``checklists.manage``).

Checklists are drafts until their status is set to active (``update`` sets it directly, as in
Opencom); only active ones reach visitors, and only visitors their audience matches. Visitors tick
manual tasks themselves; automatic tasks complete in ``checkAutoCompletion``, which ``events:track``
schedules after the visitor's event commits.
"""

from runtime import UNDEFINED, internal_mutation, mutation, query, v

from .lib.audience import Audience, validate_targeting
from .lib.authoring import clamp_limit, managed, readable
from .lib.checklist_progress import automatically_done, progress_of, save_progress
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.permissions import agent_with_permission, require_permission
from .lib.segment_usage import stored_targeting
from .lib.validators import json_value
from .lib.visitor_access import acting_visitor, viewing_visitor

MANAGE = "checklists.manage"
WHAT = "checklist access"
LIST_LIMIT, MAX_LIST_LIMIT = 100, 500
PROGRESS_LIMIT, MAX_PROGRESS_LIMIT = 200, 1000
status = v.union(v.literal("draft"), v.literal("active"), v.literal("archived"))
task = v.object(
    {
        "id": v.string(),
        "title": v.string(),
        "description": v.optional(v.string()),
        "action": v.optional(
            v.object(
                {
                    "type": v.union(v.literal("tour"), v.literal("url"), v.literal("event")),
                    "tourId": v.optional(v.id("tours")),
                    "url": v.optional(v.string()),
                    "eventName": v.optional(v.string()),
                }
            )
        ),
        "completionType": v.union(v.literal("manual"), v.literal("auto_event"), v.literal("auto_attribute")),
        "completionEvent": v.optional(v.string()),
        "completionAttribute": v.optional(v.object({"key": v.string(), "operator": v.string(), "value": v.optional(json_value)})),
    }
)
visitor_args = {"workspaceId": v.id("workspaces"), "visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())}


async def _fields(ctx, workspace_id: str, args: dict) -> dict:
    fields = {field: args[field] for field in ("name", "description", "tasks", "status") if field in args}
    if "tasks" in fields:
        ids = [item["id"] for item in fields["tasks"]]
        if len(ids) != len(set(ids)):
            fail(INVALID_INPUT, "Task ids must be unique")
    if "targeting" in args:
        fields["targeting"] = await validate_targeting(ctx, workspace_id, args["targeting"], "targeting rules")
        fields["audienceRules"] = UNDEFINED  # the written targeting is the one that counts
    return fields


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "description": v.optional(v.string()),
        "tasks": v.array(task),
        "targeting": v.optional(v.any()),
    }
)
async def create(ctx, args):
    """Create a draft checklist; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = await _fields(ctx, args["workspaceId"], args)
    return await ctx.db.insert(
        "checklists", {"workspaceId": args["workspaceId"], "status": "draft", **fields, "createdAt": now, "updatedAt": now}
    )


@mutation(
    args={
        "id": v.id("checklists"),
        "name": v.optional(v.string()),
        "description": v.optional(v.string()),
        "tasks": v.optional(v.array(task)),
        "targeting": v.optional(v.any()),
        "status": v.optional(status),
    }
)
async def update(ctx, args):
    """Overwrite the given fields, status included (draft/active/archived); returns the id."""
    checklist, _ = await managed(ctx, args["id"], "Checklist", MANAGE)
    await ctx.db.patch(checklist["_id"], {**await _fields(ctx, checklist["workspaceId"], args), "updatedAt": now_ms()})
    return checklist["_id"]


@mutation(args={"id": v.id("checklists")})
async def remove(ctx, args):
    """Delete the checklist and every visitor's progress in it."""
    checklist, _ = await managed(ctx, args["id"], "Checklist", MANAGE)
    async for row in ctx.db.query("checklistProgress").with_index("by_checklist", lambda q: q.eq("checklistId", checklist["_id"])):
        await ctx.db.delete(row["_id"])
    await ctx.db.delete(checklist["_id"])
    return None


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(status), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's checklists, newest first (``[]`` without the permission)."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    if "status" in args:
        rows = ctx.db.query("checklists").with_index(
            "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", args["status"])
        )
    else:
        rows = ctx.db.query("checklists").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    return await rows.order("desc").take(clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT))


@query(args={"id": v.id("checklists")})
async def get(ctx, args):
    """The checklist, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


async def _checklist_in(ctx, args: dict) -> dict | None:
    checklist = await ctx.db.get(args["checklistId"])
    return checklist if checklist is not None and checklist["workspaceId"] == args["workspaceId"] else None


@query(args={**visitor_args, "checklistId": v.id("checklists")})
async def getProgress(ctx, args):
    """The visitor's progress in the checklist, or null."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    checklist = await _checklist_in(ctx, args)
    if visitor is None or checklist is None:
        return None
    return await progress_of(ctx, visitor["_id"], checklist["_id"])


@query(args={**visitor_args, "limit": v.optional(v.number())})
async def getAllProgress(ctx, args):
    """The visitor's progress rows, newest first."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    if visitor is None:
        return []
    rows = ctx.db.query("checklistProgress").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    return await rows.order("desc").take(clamp_limit(args.get("limit"), PROGRESS_LIMIT, MAX_PROGRESS_LIMIT))


async def _task_target(ctx, args: dict) -> tuple[dict, dict, dict | None]:
    visitor = await acting_visitor(ctx, args, MANAGE, what=WHAT)
    checklist = await _checklist_in(ctx, args)
    if checklist is None:
        not_found("Checklist")
    if not any(item["id"] == args["taskId"] for item in checklist["tasks"]):
        not_found("Task")
    return checklist, visitor, await progress_of(ctx, visitor["_id"], checklist["_id"])


@mutation(args={**visitor_args, "checklistId": v.id("checklists"), "taskId": v.string()})
async def completeTask(ctx, args):
    """Tick a task for the visitor; returns the progress row."""
    checklist, visitor, progress = await _task_target(ctx, args)
    done = list(progress["completedTaskIds"]) if progress else []
    if args["taskId"] in done:
        return progress
    return await save_progress(ctx, checklist, visitor["_id"], progress, [*done, args["taskId"]])


@mutation(args={**visitor_args, "checklistId": v.id("checklists"), "taskId": v.string()})
async def uncompleteTask(ctx, args):
    """Untick a task for the visitor; returns the progress row (null when the visitor has none)."""
    checklist, visitor, progress = await _task_target(ctx, args)
    if progress is None:
        return None
    remaining = [task_id for task_id in progress["completedTaskIds"] if task_id != args["taskId"]]
    return await save_progress(ctx, checklist, visitor["_id"], progress, remaining)


async def _active_checklists(ctx, workspace_id: str, limit: int) -> list[dict]:
    rows = ctx.db.query("checklists").with_index(
        "by_workspace_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", "active")
    )
    return await rows.order("desc").take(limit)


@query(args={**visitor_args, "limit": v.optional(v.number())})
async def getEligible(ctx, args):
    """Active checklists targeting the visitor, newest first: ``[{checklist, progress}]``."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    if visitor is None:
        return []
    audience = Audience(ctx, visitor)
    rows = ctx.db.query("checklistProgress").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    progress_by_checklist = {row["checklistId"]: row async for row in rows}
    eligible = []
    for checklist in await _active_checklists(ctx, args["workspaceId"], clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT)):
        if not await audience.matches(stored_targeting(checklist)):
            continue
        progress = progress_by_checklist.get(checklist["_id"])
        summary = {field: progress[field] for field in ("completedTaskIds", "startedAt", "completedAt") if field in progress} if progress else None
        eligible.append({"checklist": checklist, "progress": summary})
    return eligible


@internal_mutation(args={"visitorId": v.id("visitors"), "workspaceId": v.id("workspaces"), "eventName": v.optional(v.string())})
async def checkAutoCompletion(ctx, args):
    """Complete the visitor's automatic tasks that the event (or the visitor's attributes) satisfy."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None or visitor["workspaceId"] != args["workspaceId"]:
        return None
    audience = Audience(ctx, visitor)
    for checklist in await _active_checklists(ctx, args["workspaceId"], MAX_LIST_LIMIT):
        if not await audience.matches(stored_targeting(checklist)):
            continue
        progress = await progress_of(ctx, visitor["_id"], checklist["_id"])
        done = list(progress["completedTaskIds"]) if progress else []
        finished = automatically_done(checklist, set(done), visitor, args.get("eventName"))
        if finished:
            await save_progress(ctx, checklist, visitor["_id"], progress, [*done, *finished])
    return None
