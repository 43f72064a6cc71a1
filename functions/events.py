"""Events: what a visitor did (custom events and automatic page/screen/session events).

Stored per visitor with the indexes audience rules need (per visitor and name for eligibility,
per workspace, name and time for audience counts). Work an event triggers — checklist tasks that
complete on it — runs in a scheduled function after the visitor's mutation commits, never inline.
A visitor records events only through its own session token (Opencom also accepts a bare
``visitorId``, which would let anyone write events for any visitor).
"""

from runtime import UNDEFINED, mutation, query, v

from .lib.audience import count_visitor_events
from .lib.authoring import clamp_limit
from .lib.clock import DAY_MS, now_ms
from .lib.permissions import agent_with_permission, require_permission
from .lib.sessions import live_session, resolve_visitor
from .lib.validators import event_properties

AUTO_COMPLETION_JOB = "checklists:checkAutoCompletion"
AUTO_EVENT_TYPES = ("page_view", "screen_view", "session_start", "session_end")
RATE_WINDOW_MS = 60_000.0
RATE_MAX_AUTO_EVENTS = 100
LIST_LIMIT, MAX_LIST_LIMIT = 100, 1000
MAX_DISTINCT_NAMES = 1000
CLEANUP_BATCH = 1000
AUTO_EVENT_TTL_DAYS = 30.0
READ = "conversations.read"

_event_args = {
    "workspaceId": v.id("workspaces"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
    "properties": v.optional(event_properties),
    "url": v.optional(v.string()),
    "sessionId": v.optional(v.string()),
}


def _event(args: dict, visitor_id: str, name: str, event_type: str) -> dict:
    return {
        "workspaceId": args["workspaceId"],
        "visitorId": visitor_id,
        "name": name,
        "properties": args.get("properties", UNDEFINED),
        "timestamp": now_ms(),
        "url": args.get("url", UNDEFINED),
        "sessionId": args.get("sessionId", UNDEFINED),
        "eventType": event_type,
    }


@mutation(args={**_event_args, "name": v.string()})
async def track(ctx, args):
    """Record a custom event for the session's visitor and schedule the checklist tasks it completes."""
    visitor_id = await resolve_visitor(ctx, args.get("sessionToken"), args["workspaceId"], args.get("visitorId"))
    event_id = await ctx.db.insert("events", _event(args, visitor_id, args["name"], "manual"))
    await ctx.scheduler.run_after(
        0, AUTO_COMPLETION_JOB, {"visitorId": visitor_id, "workspaceId": args["workspaceId"], "eventName": args["name"]}
    )
    return event_id


@mutation(args={**_event_args, "eventType": v.union(*(v.literal(kind) for kind in AUTO_EVENT_TYPES))})
async def trackAutoEvent(ctx, args):
    """Record an automatic event (named after its type); null when over 100 in the last minute."""
    visitor_id = await resolve_visitor(ctx, args.get("sessionToken"), args["workspaceId"], args.get("visitorId"))
    since = now_ms() - RATE_WINDOW_MS
    recent = ctx.db.query("events").with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id)).order("desc")
    count = 0
    async for event in recent:
        if event["timestamp"] < since or count >= RATE_MAX_AUTO_EVENTS:
            break
        count += event.get("eventType") in AUTO_EVENT_TYPES
    if count >= RATE_MAX_AUTO_EVENTS:
        return None
    return await ctx.db.insert("events", _event(args, visitor_id, args["eventType"], args["eventType"]))


async def _readable_visitor(ctx, args: dict) -> dict | None:
    """The named visitor when the caller is its own session or an agent with ``conversations.read``."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        return None
    session = await live_session(ctx, args.get("sessionToken"))
    if session is not None and session["visitorId"] == visitor["_id"] and args.get("workspaceId") in (None, visitor["workspaceId"]):
        return visitor
    return visitor if await agent_with_permission(ctx, visitor["workspaceId"], READ) else None


_visitor_args = {
    "visitorId": v.id("visitors"),
    "sessionToken": v.optional(v.string()),
    "workspaceId": v.optional(v.id("workspaces")),
}


@query(args={**_visitor_args, "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The visitor's events, newest first (``[]`` for strangers)."""
    visitor = await _readable_visitor(ctx, args)
    if visitor is None:
        return []
    events = ctx.db.query("events").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    return await events.order("desc").take(clamp_limit(args.get("limit"), LIST_LIMIT, MAX_LIST_LIMIT))


@query(args={**_visitor_args, "name": v.string(), "withinDays": v.optional(v.number())})
async def count(ctx, args):
    """How many events of one name the visitor has (in the last ``withinDays`` days); 0 for strangers."""
    visitor = await _readable_visitor(ctx, args)
    if visitor is None:
        return 0.0
    event_filter = {"name": args["name"], **({"withinDays": args["withinDays"]} if "withinDays" in args else {})}
    return float(await count_visitor_events(ctx, visitor["_id"], event_filter, now_ms()))


@query(args={"workspaceId": v.id("workspaces")})
async def getDistinctNames(ctx, args):
    """The workspace's event names, sorted; one index read per name, not one per event."""
    if await agent_with_permission(ctx, args["workspaceId"], READ) is None:
        return []
    names: list[str] = []
    while len(names) < MAX_DISTINCT_NAMES:

        def after(q, last=names[-1] if names else None):
            q = q.eq("workspaceId", args["workspaceId"])
            return q if last is None else q.gt("name", last)

        following = await ctx.db.query("events").with_index("by_workspace_name_time", after).first()
        if following is None:
            break
        names.append(following["name"])
    return names


@mutation(args={"workspaceId": v.id("workspaces"), "ttlDays": v.optional(v.number())})
async def cleanupOldAutoEvents(ctx, args):
    """Delete up to 1000 automatic events older than ``ttlDays`` (30): ``{deleted, hasMore}`` (``data.delete``)."""
    await require_permission(ctx, args["workspaceId"], "data.delete")
    cutoff = now_ms() - args.get("ttlDays", AUTO_EVENT_TTL_DAYS) * DAY_MS
    deleted, has_more = 0, False
    for kind in AUTO_EVENT_TYPES:
        events = ctx.db.query("events").with_index(
            "by_workspace_type", lambda q, kind=kind: q.eq("workspaceId", args["workspaceId"]).eq("eventType", kind)
        )
        async for event in events:  # oldest first: creation order is timestamp order
            if event["timestamp"] >= cutoff:
                break
            if deleted == CLEANUP_BATCH:
                has_more = True
                break
            await ctx.db.delete(event["_id"])
            deleted += 1
    return {"deleted": float(deleted), "hasMore": has_more}
