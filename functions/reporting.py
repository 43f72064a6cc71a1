"""Customer satisfaction (CSAT) as the widget collects it: whether to ask, and recording the answer.

A rating is asked for only when the workspace turned ``askForRatingEnabled`` on, the conversation
is closed, and nobody rated it yet; one rating (1 to 5, with optional feedback) per conversation,
by its visitor or its workspace's agents.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.conversation_access import conversation_for_reader
from .lib.errors import INVALID_INPUT, fail
from .lib.identity import Doc

_ARGS = {
    "conversationId": v.id("conversations"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}


async def _conversation(ctx: Any, args: Doc) -> Doc:
    return await conversation_for_reader(ctx, args["conversationId"], args.get("sessionToken"), args.get("visitorId"))


async def _rating_enabled(ctx: Any, workspace_id: str) -> bool:
    settings = (
        await ctx.db.query("automationSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )
    return bool((settings or {}).get("askForRatingEnabled", False))


async def _already_rated(ctx: Any, conversation: Doc) -> bool:
    if conversation.get("csatCompletedAt") or conversation.get("csatResponseId"):
        return True
    existing = (
        await ctx.db.query("csatResponses")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .first()
    )
    return existing is not None


@query(args=_ARGS)
async def getCsatEligibility(ctx, args):
    """``{eligible, reason, askForRatingEnabled, alreadySubmitted, conversationStatus}``."""
    conversation = await _conversation(ctx, args)
    enabled = await _rating_enabled(ctx, conversation["workspaceId"])
    rated = await _already_rated(ctx, conversation)
    if not enabled:
        reason = "disabled"
    elif conversation["status"] != "closed":
        reason = "conversation_not_closed"
    elif rated:
        reason = "already_submitted"
    else:
        reason = "eligible"
    return {
        "eligible": reason == "eligible",
        "reason": reason,
        "askForRatingEnabled": enabled,
        "alreadySubmitted": rated,
        "conversationStatus": conversation["status"],
    }


@mutation(args={**_ARGS, "rating": v.number(), "feedback": v.optional(v.string())})
async def submitCsatResponse(ctx, args):
    """Record the conversation's rating; returns its id."""
    if not 1 <= args["rating"] <= 5:
        fail(INVALID_INPUT, "Rating must be between 1 and 5")
    conversation = await _conversation(ctx, args)
    if not await _rating_enabled(ctx, conversation["workspaceId"]):
        fail(INVALID_INPUT, "CSAT collection is disabled for this workspace")
    if conversation["status"] != "closed":
        fail(INVALID_INPUT, "CSAT can only be submitted for closed conversations")
    if await _already_rated(ctx, conversation):
        fail(INVALID_INPUT, "CSAT response already submitted for this conversation")
    now = now_ms()
    response = {
        "workspaceId": conversation["workspaceId"],
        "conversationId": conversation["_id"],
        "rating": args["rating"],
        "createdAt": now,
    }
    for source, target in (("visitorId", "visitorId"), ("assignedAgentId", "agentId")):
        if source in conversation:
            response[target] = conversation[source]
    if "feedback" in args:
        response["feedback"] = args["feedback"]
    csat_id = await ctx.db.insert("csatResponses", response)
    await ctx.db.patch(conversation["_id"], {"csatCompletedAt": now, "csatResponseId": csat_id, "updatedAt": now})
    return csat_id
