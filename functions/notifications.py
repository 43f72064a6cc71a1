"""Delivering agents' notifications (``lib/notifications``) and their pushes through the push transport
(``lib/push_dispatch``); internal only."""

from runtime import internal_action, internal_mutation, v

from .lib.agent_windows import CHANNELS, EVERYONE
from .lib.notifications import deliver_to_agents
from .lib.push_dispatch import claim, record
from .lib.push_transport import expo_settings, send_expo

_AUDIENCE = v.optional(v.union(v.literal(EVERYONE), v.array(v.id("users"))))


@internal_mutation(
    args={
        "eventId": v.id("notificationEvents"),
        "scope": v.string(),
        "title": v.string(),
        "body": v.string(),
        "actorUserId": v.union(v.id("users"), v.null()),
        "email": _AUDIENCE,
        "push": _AUDIENCE,
    }
)
async def deliverToAgents(ctx, args):
    """Tell the agents due on each channel of a recorded event (scheduled by ``notify_agents``)."""
    due = {channel: args[channel] for channel in CHANNELS if channel in args}
    await deliver_to_agents(ctx, args["eventId"], args["scope"], args["title"], args["body"], due, args["actorUserId"])


@internal_mutation(args={"deliveryId": v.id("notificationDeliveries")})
async def claimPush(ctx, args):
    """Claim a pending push: its messages, or null when it is not pending."""
    return await claim(ctx, args["deliveryId"])


@internal_mutation(args={"deliveryId": v.id("notificationDeliveries"), "results": v.array(v.any())})
async def recordPush(ctx, args):
    """Record the transport's answers for a claimed push."""
    await record(ctx, args["deliveryId"], args["results"])


@internal_action(args={"deliveryId": v.id("notificationDeliveries")})
async def dispatchPush(ctx, args):
    """Claim the push, post it to Expo, record the answers."""
    messages = await ctx.run_mutation("notifications:claimPush", args)
    if messages is None:
        return
    settings = expo_settings(ctx.env)
    if settings is None or not messages:
        outcomes = [{"ok": False, "error": "no transport configured"} for _ in messages]
    else:
        outcomes = await send_expo(settings, [{key: m[key] for key in ("to", "title", "body")} for m in messages])
    results = [{"tokenId": m["tokenId"], **outcome} for m, outcome in zip(messages, outcomes, strict=True)]
    await ctx.run_mutation("notifications:recordPush", {**args, "results": results})
