"""Appending a message to a conversation and keeping the conversation's summary fields in step.

Every message bumps ``lastMessageAt``/``updatedAt``; the side that did not write it gets an unread
count: visitor messages are unread for agents, agent and bot messages unread for the visitor.
Legacy "user" messages bump no counter. The first agent message stamps ``firstResponseAt`` (what
first-response reports measure). The conversation's status never changes here.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc
from .notifications import notify_agents

_UNREAD_COUNTER = {"visitor": "unreadByAgent", "agent": "unreadByVisitor", "bot": "unreadByVisitor"}

WELCOME_MESSAGE = "Hi! How can we help you today?"
SYSTEM_SENDER = "system"


async def append_message(
    ctx: Any,
    conversation: Doc,
    *,
    sender_type: str,
    sender_id: str,
    content: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """Insert a message into ``conversation`` and update its summary; returns the message id.

    ``extra`` holds further message fields (an email message's ``channel``, ``emailMetadata``, ...).
    """
    now = now_ms()
    message_id = await ctx.db.insert(
        "messages",
        {
            **(extra or {}),
            "conversationId": conversation["_id"],
            "senderId": sender_id,
            "senderType": sender_type,
            "content": content,
            "createdAt": now,
        },
    )
    patch: dict[str, Any] = {"updatedAt": now, "lastMessageAt": now}
    counter = _UNREAD_COUNTER.get(sender_type)
    if counter is not None:
        patch[counter] = conversation.get(counter, 0.0) + 1.0
    if sender_type == "agent" and conversation.get("firstResponseAt") is None:
        patch["firstResponseAt"] = now
    await ctx.db.patch(conversation["_id"], patch)
    return message_id


async def new_conversation(ctx: Any, workspace_id: str, visitor_id: str) -> Doc:
    """An open, empty conversation of the visitor's (for a message the workspace starts); returns it."""
    now = now_ms()
    conversation_id = await ctx.db.insert(
        "conversations",
        {"workspaceId": workspace_id, "visitorId": visitor_id, "status": "open", "createdAt": now, "updatedAt": now,
         "lastMessageAt": now, "aiWorkflowState": "none"},
    )  # fmt: skip
    return await ctx.db.get(conversation_id)


async def open_visitor_conversation(ctx: Any, workspace_id: str, visitor_id: str) -> Doc:
    """Start an open conversation for a visitor with the welcome bot message; returns the document.

    The welcome message is not counted as unread: the visitor sees it as the conversation opens.
    """
    conversation = await new_conversation(ctx, workspace_id, visitor_id)
    conversation_id, now = conversation["_id"], conversation["createdAt"]
    await ctx.db.insert(
        "messages",
        {
            "conversationId": conversation_id,
            "senderId": SYSTEM_SENDER,
            "senderType": "bot",
            "content": WELCOME_MESSAGE,
            "createdAt": now,
        },
    )
    scope = f"conversation:{conversation_id}"
    await notify_agents(ctx, workspace_id, "new_conversation", scope, "New conversation", "A visitor started a conversation",
                        domain="chat", actorType="visitor", actorVisitorId=visitor_id, conversationId=conversation_id)  # fmt: skip
    return conversation


async def newest_message(ctx: Any, conversation_id: str) -> Doc | None:
    """The latest message of a conversation, or None."""
    return await (
        ctx.db.query("messages")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation_id))
        .order("desc")
        .first()
    )
