"""The AI agent as the widget sees it: its public settings, the answers it gave in a conversation,
visitor feedback on them, and handing a conversation over to a human.

This backend has no AI provider wired in, so no workspace stores AI answers yet; these functions
read and write the same rows Opencom's do, and answer the empty value when there are none.
A workspace without AI settings has Opencom's defaults (AI off).
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.conversation_access import conversation_for_reader
from .lib.errors import not_found
from .lib.identity import Doc

DEFAULT_HANDOFF_MESSAGE = "Let me connect you with a human agent who can help you better."
AI_SENDER = "ai-agent"
DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "knowledgeSources": ["articles"],
    "confidenceThreshold": 0.6,
    "personality": None,
    "handoffMessage": DEFAULT_HANDOFF_MESSAGE,
    "workingHours": None,
    "model": "openai/gpt-5-nano",
    "suggestionsEnabled": False,
    "embeddingModel": "text-embedding-3-small",
}
_CONVERSATION_ARGS = {
    "conversationId": v.id("conversations"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}


async def _settings(ctx: Any, workspace_id: str) -> Doc | None:
    return (
        await ctx.db.query("aiAgentSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


async def _readable_conversation(ctx: Any, args: Doc) -> Doc:
    return await conversation_for_reader(ctx, args["conversationId"], args.get("sessionToken"), args.get("visitorId"))


@query(args={"workspaceId": v.id("workspaces")})
async def getPublicSettings(ctx, args):
    """Whether the AI agent answers in the widget, and how (no secrets; public)."""
    stored = await _settings(ctx, args["workspaceId"]) or {}
    return {field: default if stored.get(field) is None else stored[field] for field, default in DEFAULTS.items()}


@query(args=_CONVERSATION_ARGS)
async def getConversationResponses(ctx, args):
    """The AI answers delivered in the conversation, each with what was shown and what was generated."""
    await _readable_conversation(ctx, args)
    rows = (
        await ctx.db.query("aiResponses")
        .with_index("by_conversation", lambda q: q.eq("conversationId", args["conversationId"]))
        .collect()
    )
    answers = []
    for row in rows:
        if "messageId" not in row:
            continue
        generated = None
        if "generatedCandidateResponse" in row:
            generated = {
                "response": row["generatedCandidateResponse"],
                "sources": row.get("generatedCandidateSources", []),
                "confidence": row.get("generatedCandidateConfidence", row["confidence"]),
            }
        delivered = {
            "response": row["response"],
            "sources": row["sources"],
            "confidence": None if row["handedOff"] else row["confidence"],
        }
        answers.append({**row, "deliveredResponseContext": delivered, "generatedResponseContext": generated})
    return answers


@mutation(
    args={
        "responseId": v.id("aiResponses"),
        "feedback": v.union(v.literal("helpful"), v.literal("not_helpful")),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
    }
)
async def submitFeedback(ctx, args):
    """Rate an AI answer, by the conversation's visitor or its workspace's agents."""
    response = await ctx.db.get(args["responseId"])
    if response is None:
        not_found("AI response")
    await _readable_conversation(ctx, {**args, "conversationId": response["conversationId"]})
    await ctx.db.patch(response["_id"], {"feedback": args["feedback"]})
    return None


@mutation(args={**_CONVERSATION_ARGS, "reason": v.optional(v.string())})
async def handoffToHuman(ctx, args):
    """Hand the conversation to the team: post the handoff message, reopen it and flag it for agents."""
    conversation = await _readable_conversation(ctx, args)
    settings = await _settings(ctx, conversation["workspaceId"]) or {}
    message = settings.get("handoffMessage") or DEFAULT_HANDOFF_MESSAGE
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {"conversationId": conversation["_id"], "senderId": AI_SENDER, "senderType": "bot", "content": message,
         "createdAt": now},
    )  # fmt: skip
    patch = {
        "status": "open",
        "updatedAt": now,
        "lastMessageAt": now,
        "unreadByAgent": max(conversation.get("unreadByAgent", 0.0), 1.0),
        "aiWorkflowState": "handoff",
        "aiLastResponseAt": now,
    }
    if "reason" in args:
        patch["aiHandoffReason"] = args["reason"]
    await ctx.db.patch(conversation["_id"], patch)
    return {"messageId": message_id, "handoffMessage": message}
