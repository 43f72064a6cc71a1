"""Messages: reading and posting in a conversation as an agent or as the conversation's visitor.

Bot messages come only from server code (``internalSendBotMessage``); a client can never post as
the bot or under someone else's sender id. Posting updates the conversation (see ``lib/threads``).
A message may carry up to five of its sender's staged uploads (``attachmentIds``, see
``lib/attachments``); listed messages always have ``attachments`` (``[]`` when none).
"""

from typing import Any

from runtime import internal_mutation, mutation, query, v

from .lib.actors import Actor
from .lib.attachments import bind_staged, with_attachments
from .lib.conversation_access import may_read_conversation, owning_visitor
from .lib.errors import NOT_AUTHORIZED, fail, not_found
from .lib.permissions import require_permission
from .lib.threads import SYSTEM_SENDER, append_message

AGENT_SENDERS = ("agent", "user")
FALLBACK_SENDER_NAME = "Support"
MESSAGE_LIST_LIMIT = 500  # newest messages one list answers


async def _sender_name(ctx: Any, message: dict, names: dict[str, str]) -> str:
    sender_id = message["senderId"]
    if sender_id not in names:
        user_id = ctx.db.normalize_id("users", sender_id)
        user = await ctx.db.get(user_id) if user_id is not None else None
        name = ((user or {}).get("name") or "").strip() or ((user or {}).get("email") or "").strip()
        names[sender_id] = name or FALLBACK_SENDER_NAME
    return names[sender_id]


@query(
    args={
        "conversationId": v.id("conversations"),
        "sessionToken": v.optional(v.string()),
        "visitorId": v.optional(v.id("visitors")),
        "limit": v.optional(v.number()),
    }
)
async def list_(ctx, args):
    """The conversation's newest messages (``limit``, at most 500), oldest first, with ``senderName``.

    Opencom returns the whole thread; a thread longer than the bound shows its latest part, so the
    answer stays within the read and array limits however long the conversation grows.
    """
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        return []
    if not await may_read_conversation(ctx, conversation, args.get("sessionToken"), args.get("visitorId")):
        return []
    limit = int(min(max(args.get("limit", MESSAGE_LIST_LIMIT), 1), MESSAGE_LIST_LIMIT))
    newest = (
        await ctx.db.query("messages")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .order("desc")
        .take(limit)
    )
    messages = newest[::-1]
    names: dict[str, str] = {}
    named = [
        {**message, "senderName": await _sender_name(ctx, message, names)}
        if message["senderType"] in AGENT_SENDERS
        else message
        for message in messages
    ]
    return await with_attachments(ctx, named)


@mutation(
    args={
        "conversationId": v.id("conversations"),
        "content": v.string(),
        "senderType": v.union(v.literal("user"), v.literal("visitor"), v.literal("agent"), v.literal("bot")),
        "senderId": v.string(),
        "attachmentIds": v.optional(v.array(v.id("supportAttachments"))),
        "sessionToken": v.optional(v.string()),
        "visitorId": v.optional(v.id("visitors")),
    }
)
async def send(ctx, args):
    """Post a message as the conversation's visitor (session token) or as an agent (``conversations.reply``)."""
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        not_found("Conversation")
    sender_type = args["senderType"]
    if sender_type == "bot":
        fail(NOT_AUTHORIZED, "Not authorized: bot messages can only be sent by internal system callers")
    if sender_type == "visitor":
        sender = await owning_visitor(
            ctx,
            conversation,
            args.get("sessionToken"),
            args.get("visitorId"),
            refusal="Not authorized to send messages to this conversation",
        )
    else:
        sender = (await require_permission(ctx, conversation["workspaceId"], "conversations.reply")).id
    if args["senderId"] != sender:
        fail(NOT_AUTHORIZED, "Not authorized to send messages as another sender")
    message_id = await append_message(
        ctx, conversation, sender_type=sender_type, sender_id=sender, content=args["content"]
    )
    uploader = Actor("visitor" if sender_type == "visitor" else "agent", sender)
    attached = await bind_staged(
        ctx, conversation["workspaceId"], args.get("attachmentIds"), uploader, "message", message_id
    )
    if attached:
        await ctx.db.patch(message_id, {"attachmentIds": attached})
    return message_id


@internal_mutation(
    args={"conversationId": v.id("conversations"), "content": v.string(), "senderId": v.optional(v.string())}
)
async def internalSendBotMessage(ctx, args):
    """Post a bot message (welcome, AI answers) from server code; returns its id."""
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        not_found("Conversation")
    return await append_message(
        ctx, conversation, sender_type="bot", sender_id=args.get("senderId") or SYSTEM_SENDER, content=args["content"]
    )
