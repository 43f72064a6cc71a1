"""The AI agent's side of a conversation: settings with defaults, grounding prompts, hand-offs, stored answers.

An answer is only ever built from the workspace's published knowledge the retrieval found; with no
such knowledge, no provider, or a failing provider, the conversation is handed to a human (the
workspace's hand-off message is posted and the conversation flagged ``handoff``). Every outcome
is stored as an ``aiResponses`` row with its sources, shown in the inbox's AI review.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc

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
SOURCE_CONTENT_TYPES = {"articles": "article", "internalArticles": "internalArticle", "snippets": "snippet"}
SOURCE_CHARS = 2000  # characters of each source put in the prompt
NO_ANSWER = "HANDOFF"  # what the model is told to say when the sources do not answer


async def stored_settings(ctx: Any, workspace_id: str) -> Doc | None:
    """The workspace's ``aiAgentSettings`` row, or None."""
    return await (
        ctx.db.query("aiAgentSettings").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).first()
    )


def with_defaults(stored: Doc | None) -> Doc:
    """The settings with Opencom's defaults for every field not set."""
    stored = stored or {}
    merged = {field: default if stored.get(field) is None else stored[field] for field, default in DEFAULTS.items()}
    return {**stored, **merged, "lastConfigError": stored.get("lastConfigError")}


def grounding_prompt(personality: str | None, sources: list[Doc]) -> str:
    """The system prompt: answer only from the numbered sources, else say ``NO_ANSWER``."""
    listed = "\n\n".join(
        f"[Source {n}: {source['title']}]\n{source['content'][:SOURCE_CHARS]}" for n, source in enumerate(sources, 1)
    )
    return (
        "You are a customer support assistant. Answer the customer's question using only the sources below. "
        f"If they do not contain the answer, reply with exactly {NO_ANSWER} and nothing else. "
        "Never invent facts, prices, policies or links.\n"
        + (f"Tone and personality: {personality}\n" if personality else "")
        + f"\nSources:\n{listed}"
    )


async def hand_off(ctx: Any, conversation: Doc, reason: str | None) -> Doc:
    """Post the hand-off message, reopen and flag the conversation; ``{messageId, handoffMessage}``."""
    settings = with_defaults(await stored_settings(ctx, conversation["workspaceId"]))
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {"conversationId": conversation["_id"], "senderId": AI_SENDER, "senderType": "bot",
         "content": settings["handoffMessage"], "createdAt": now},
    )  # fmt: skip
    patch = {
        "status": "open",
        "updatedAt": now,
        "lastMessageAt": now,
        "unreadByAgent": max(conversation.get("unreadByAgent", 0.0), 1.0),
        "aiWorkflowState": "handoff",
        "aiLastResponseAt": now,
    }
    if reason is not None:
        patch["aiHandoffReason"] = reason
    await ctx.db.patch(conversation["_id"], patch)
    return {"messageId": message_id, "handoffMessage": settings["handoffMessage"]}


async def store_answer(ctx: Any, conversation: Doc, fields: Doc) -> str:
    """Insert the ``aiResponses`` row of one outcome (``fields`` holds its query, response, sources, ...)."""
    return await ctx.db.insert(
        "aiResponses",
        {"conversationId": conversation["_id"], "workspaceId": conversation["workspaceId"], "createdAt": now_ms(),
         **fields},
    )  # fmt: skip
