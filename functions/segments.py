"""Segments: saved audience rules that tours, surveys, outbound messages, checklists and tooltips target.

Everything needs ``settings.workspace``. A segment still targeted by an item cannot be removed:
Opencom deletes it anyway and its items then reach everyone; here the caller is told which items
to retarget first.
"""

from runtime import UNDEFINED, internal_mutation, mutation, query, v

from .lib.audience import validate_rules
from .lib.audience_count import count_matching
from .lib.authoring import clamp_limit, managed, readable
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.permissions import agent_with_permission, require_permission
from .lib.segment_usage import segment_usage
from .lib.visitor_census import arm_census, census_step

MANAGE = "settings.workspace"
LIST_LIMIT, MAX_LIST_LIMIT = 100, 500
USAGE_LIMIT, MAX_USAGE_LIMIT = 200, 1000


@query(args={"workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's segments, newest first (``[]`` for callers without the permission)."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    limit = clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT)
    segments = ctx.db.query("segments").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    return await segments.order("desc").take(limit)


@query(args={"id": v.id("segments")})
async def get(ctx, args):
    """The segment, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "description": v.optional(v.string()),
        "audienceRules": v.any(),
        "createdBy": v.optional(v.id("users")),
    }
)
async def create(ctx, args):
    """Save validated audience rules under a name; returns the segment id."""
    agent = await require_permission(ctx, args["workspaceId"], MANAGE)
    if args.get("createdBy", agent.id) != agent.id:
        fail(NOT_AUTHORIZED, "Cannot create segment on behalf of another user")
    now = now_ms()
    await arm_census(ctx, args["workspaceId"])
    return await ctx.db.insert(
        "segments",
        {
            "workspaceId": args["workspaceId"],
            "name": args["name"],
            "description": args.get("description", UNDEFINED),
            "audienceRules": validate_rules(args["audienceRules"]),
            "createdAt": now,
            "updatedAt": now,
            "createdBy": agent.id,
        },
    )


@mutation(
    args={
        "id": v.id("segments"),
        "name": v.optional(v.string()),
        "description": v.optional(v.string()),
        "audienceRules": v.optional(v.any()),
    }
)
async def update(ctx, args):
    """Rename, describe or retarget a segment (every item targeting it follows); returns its id."""
    segment, _ = await managed(ctx, args["id"], "Segment", MANAGE)
    changes = {field: args[field] for field in ("name", "description") if field in args}
    if "audienceRules" in args:
        changes["audienceRules"] = validate_rules(args["audienceRules"])
    await arm_census(ctx, segment["workspaceId"])
    await ctx.db.patch(segment["_id"], {**changes, "updatedAt": now_ms()})
    return segment["_id"]


@mutation(args={"id": v.id("segments")})
async def remove(ctx, args):
    """Delete a segment no item targets: ``{success: true}``; INVALID_INPUT naming the items otherwise."""
    segment, _ = await managed(ctx, args["id"], "Segment", MANAGE)
    usage = await segment_usage(ctx, segment)
    if usage:
        names = ", ".join(f'{use["type"]} "{use["name"]}"' for use in usage[:5])
        more = f" and {len(usage) - 5} more" if len(usage) > 5 else ""
        fail(INVALID_INPUT, f"Segment is in use by {names}{more}; retarget them before removing it")
    await ctx.db.delete(segment["_id"])
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces"), "audienceRules": v.any()})
async def preview(ctx, args):
    """``{total, matching}`` visitors for the rules; 0 for callers without the permission."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return 0
    return await count_matching(ctx, args["workspaceId"], validate_rules(args["audienceRules"]))


@query(args={"id": v.id("segments"), "totalLimit": v.optional(v.number()), "perTypeLimit": v.optional(v.number())})
async def getUsage(ctx, args):
    """``[{type, id, name}]`` of the tours, surveys, outbound messages, checklists and tooltips targeting it."""
    segment = await ctx.db.get(args["id"])
    if segment is None:
        not_found("Segment")
    if await agent_with_permission(ctx, segment["workspaceId"], MANAGE) is None:
        return []
    return await segment_usage(ctx, segment, clamp_limit(args.get("totalLimit"), USAGE_LIMIT, MAX_USAGE_LIMIT))


@internal_mutation(args={"workspaceId": v.id("workspaces"), "after": v.optional(v.number()), "counted": v.number()})
async def takeVisitorCensus(ctx, args):
    """One page of a workspace's visitor census (see ``lib/visitor_census``)."""
    await census_step(ctx, args["workspaceId"], args.get("after"), args["counted"])


@internal_mutation(args={})
async def refreshVisitorCensuses(ctx, args):
    """Daily: re-count the visitors of every workspace whose audiences were counted before (if a day old)."""
    async for stats in ctx.db.query("audienceStats"):
        await arm_census(ctx, stats["workspaceId"])
