"""Events: what a visitor did (custom events and automatic page/screen/session events).

Stored per visitor with the indexes audience rules need (per visitor and name for eligibility,
per workspace, name and time for audience counts). Work an event triggers — checklist tasks that
complete on it — runs in a scheduled function after the visitor's mutation commits, never inline.
A visitor records events only through its own session token (Opencom also accepts a bare
``visitorId``, which would let anyone write events for any visitor).
"""

from runtime import UNDEFINED, mutation, v

from .lib.clock import now_ms
from .lib.sessions import resolve_visitor
from .lib.validators import event_properties

AUTO_COMPLETION_JOB = "checklists:checkAutoCompletion"
AUTO_EVENT_TYPES = ("page_view", "screen_view", "session_start", "session_end")
RATE_WINDOW_MS = 60_000.0
RATE_MAX_AUTO_EVENTS = 100

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
