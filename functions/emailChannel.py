"""The email channel: a workspace's inbox address, inbound mail as conversations, replies by email.

Agents with ``settings.integrations`` set the channel up (``upsertEmailConfig`` gives the
workspace its forwarding address); mail to that address arrives through the ``/email/inbound``
webhook (``http.py``), which calls ``processInboundEmail``/``processForwardedEmail``. Those are
internal: only server code that verified the webhook's signature can file mail. Agents answer
with ``sendEmailReply``, which goes out through the email provider (``lib/email_provider``);
the reply's message stays ``deliveryStatus: "pending"`` since nothing confirmed a delivery.
"""

from typing import Any

from runtime import internal_mutation, internal_query, mutation, query, v

from .lib.email_provider import OutgoingEmail, mailbox, new_message_id, send_email, text_to_html
from .lib.email_threads import (
    EMAIL,
    config_for_address,
    config_of_workspace,
    ensure_config,
    file_inbound_email,
    latest_thread,
    record_thread,
)
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import Doc, require_user
from .lib.inbound_email import parse_mailbox, without_prefix
from .lib.permissions import Agent, agent_with_permission, require_permission
from .lib.threads import append_message

MANAGE = "settings.integrations"
DEFAULT_REPLY_SUBJECT = "New message from support"
SIGNATURE_SEPARATOR = "\n\n-- \n"  # the RFC 3676 signature delimiter mail clients recognise


@query(args={"workspaceId": v.id("workspaces")})
async def getEmailConfig(ctx, args):
    """The workspace's email channel settings (``settings.integrations``), or null."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return None
    return await config_of_workspace(ctx, args["workspaceId"])


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "fromName": v.optional(v.string()),
        "fromEmail": v.optional(v.string()),
        "signature": v.optional(v.string()),
        "enabled": v.optional(v.boolean()),
    }
)
async def upsertEmailConfig(ctx, args):
    """Set up or change the channel (``settings.integrations``); a new channel is enabled. Returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    patch: dict[str, Any] = {name: args[name] for name in ("fromName", "signature", "enabled") if name in args}
    if "fromEmail" in args:
        address = parse_mailbox(args["fromEmail"])[1]
        if address is None:
            fail(INVALID_INPUT, "fromEmail must be an email address")
        patch.update(fromEmail=address, fromEmailVerified=False)
    return await ensure_config(ctx, args["workspaceId"], patch)


@query(args={"conversationId": v.id("conversations")})
async def listEmailThreads(ctx, args):
    """Every email of a conversation, oldest first (``conversations.read``); [] otherwise."""
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        return []
    if await agent_with_permission(ctx, conversation["workspaceId"], "conversations.read") is None:
        return []
    return await (
        ctx.db.query("emailThreads")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .collect()
    )


@mutation(args={"conversationId": v.id("conversations"), "content": v.string(), "subject": v.optional(v.string())})
async def sendEmailReply(ctx, args):
    """Answer an email conversation by email (``conversations.reply``); returns the new message id."""
    await require_user(ctx)
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        not_found("Conversation")
    agent = await require_permission(ctx, conversation["workspaceId"], "conversations.reply")
    if conversation.get("channel") != EMAIL:
        fail(INVALID_INPUT, "Conversation is not an email conversation")
    config = await config_of_workspace(ctx, conversation["workspaceId"])
    if config is None or not config["enabled"]:
        fail(INVALID_INPUT, "Email channel is not enabled")
    visitor = await ctx.db.get(conversation["visitorId"]) if conversation.get("visitorId") else None
    if visitor is None or not visitor.get("email"):
        fail(INVALID_INPUT, "Visitor has no email address")
    return await _send_reply(ctx, conversation, config, agent, visitor["email"], args)


def _references(parent: Doc) -> list[str]:
    """The References of an answer to ``parent``: its own References (or In-Reply-To), then its Message-ID."""
    ancestors = parent.get("references") or ([parent["inReplyTo"]] if parent.get("inReplyTo") else [])
    return [*ancestors, parent["messageId"]]


async def _send_reply(ctx: Any, conversation: Doc, config: Doc, agent: Agent, to: str, args: dict) -> str:
    previous = await latest_thread(ctx, conversation["_id"])
    in_reply_to = previous["messageId"] if previous else None
    references = _references(previous) if previous else []
    topic = without_prefix(conversation.get("subject") or "")
    subject = args.get("subject") or (f"Re: {topic}" if topic else DEFAULT_REPLY_SUBJECT)
    address = config.get("fromEmail") or config["forwardingAddress"]
    message_id = new_message_id(address)
    body = args["content"] + (SIGNATURE_SEPARATOR + config["signature"] if config.get("signature") else "")
    metadata: dict[str, Any] = {"subject": subject, "from": address, "to": [to], "messageId": message_id}
    if previous:
        metadata.update(inReplyTo=in_reply_to, references=references)
    saved = await append_message(
        ctx,
        conversation,
        sender_type="agent",
        sender_id=agent.id,
        content=args["content"],
        extra={"channel": EMAIL, "emailMetadata": metadata, "deliveryStatus": "pending"},
    )
    await send_email(
        ctx,
        OutgoingEmail(
            purpose="conversation-reply",
            sender=mailbox(address, config.get("fromName")),
            to=(to,),
            subject=subject,
            text=body,
            html=text_to_html(body),
            message_id=message_id,
            reply_to=config["forwardingAddress"],
            in_reply_to=in_reply_to,
            references=tuple(references),
            workspace_id=conversation["workspaceId"],
            conversation_id=conversation["_id"],
        ),
    )
    await record_thread(
        ctx,
        conversation,
        message_id=message_id,
        subject=subject,
        sender_email=address,
        in_reply_to=in_reply_to,
        references=references,
    )
    return saved


# --- server side: the webhook's steps ------------------------------------------------------------
_INBOUND_ARGS = {
    "workspaceId": v.id("workspaces"),
    "from": v.string(),
    "fromName": v.optional(v.string()),
    "originalFrom": v.optional(v.string()),
    "originalName": v.optional(v.string()),
    "to": v.array(v.string()),
    "cc": v.array(v.string()),
    "subject": v.string(),
    "text": v.string(),
    "html": v.string(),
    "messageId": v.string(),
    "inReplyTo": v.optional(v.string()),
    "references": v.array(v.string()),
}


@internal_query(args={"forwardingAddress": v.string()})
async def getEmailConfigByForwardingAddress(ctx, args):
    """The channel settings receiving mail at ``forwardingAddress``, or null."""
    return await config_for_address(ctx, args["forwardingAddress"])


@internal_mutation(args=_INBOUND_ARGS)
async def processInboundEmail(ctx, args):
    """File a received email into its thread's conversation (or a new one): ``{conversationId, messageId}``."""
    return await file_inbound_email(ctx, args["workspaceId"], args, forwarded=False)


@internal_mutation(args=_INBOUND_ARGS)
async def processForwardedEmail(ctx, args):
    """File a forwarded email as a new conversation of its original author: ``{conversationId, messageId}``."""
    return await file_inbound_email(ctx, args["workspaceId"], args, forwarded=True)
