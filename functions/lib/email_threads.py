"""The email channel's conversations: which workspace a mail is for, which thread it continues.

A workspace receives mail at its forwarding address (``inbox-<last 8 characters of its id>@
mail.opencom.app``, the ``emailConfigs`` row). Every email in or out is remembered in
``emailThreads`` by its Message-ID, so a reply finds its conversation through ``In-Reply-To``,
then ``References``, then (as a last resort, for clients that drop those headers) the same
normalised subject from the same sender. Inbound mail is filed as a visitor message; a mail
someone forwarded in always starts a new conversation, on behalf of the original author.
"""

from typing import Any

from runtime import UNDEFINED

from .clock import now_ms
from .identity import Doc
from .inbound_email import normalize_subject, without_prefix
from .threads import append_message
from .visitor_merge import canonical_visitor_for_email
from .visitor_profile import ensure_readable_id

FORWARDING_DOMAIN = "mail.opencom.app"
EMAIL = "email"
_METADATA_FIELDS = ("subject", "from", "to", "cc", "messageId", "inReplyTo", "references")  # kept when non-empty


def forwarding_address(workspace_id: str, *, full: bool = False) -> str:
    """Opencom's address for a workspace's inbox; ``full`` spells the whole id, which no other workspace has."""
    return f"inbox-{(workspace_id if full else workspace_id[-8:]).lower()}@{FORWARDING_DOMAIN}"


async def config_of_workspace(ctx: Any, workspace_id: str) -> Doc | None:
    """The workspace's email channel settings, or None if it never set them up."""
    return await (
        ctx.db.query("emailConfigs").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).first()
    )


async def config_for_address(ctx: Any, address: str) -> Doc | None:
    """The email channel settings whose forwarding address is ``address`` (lower-cased), or None."""
    return await (
        ctx.db.query("emailConfigs")
        .with_index("by_forwarding_address", lambda q: q.eq("forwardingAddress", address.strip().lower()))
        .first()
    )


async def ensure_config(ctx: Any, workspace_id: str, patch: dict[str, Any] | None = None) -> str:
    """The workspace's channel settings row (created enabled, with its forwarding address), patched.

    The short address ends like the workspace id, and ids of one day share most of their tail; if
    another workspace already has it, the new one gets the address spelling its whole id.
    """
    now = now_ms()
    existing = await config_of_workspace(ctx, workspace_id)
    if existing is not None:
        if patch:
            await ctx.db.patch(existing["_id"], {**patch, "updatedAt": now})
        return existing["_id"]
    address = forwarding_address(workspace_id)
    if await config_for_address(ctx, address) is not None:
        address = forwarding_address(workspace_id, full=True)
    return await ctx.db.insert(
        "emailConfigs",
        {
            "workspaceId": workspace_id,
            "forwardingAddress": address,
            "enabled": True,
            **(patch or {}),
            "createdAt": now,
            "updatedAt": now,
        },
    )


async def thread_of_message(ctx: Any, workspace_id: str, message_id: str) -> Doc | None:
    """The workspace's ``emailThreads`` row of one Message-ID, or None.

    One email sent to several Opencom inboxes has the same Message-ID in each workspace.
    """
    rows = ctx.db.query("emailThreads").with_index("by_message_id", lambda q: q.eq("messageId", message_id))
    async for row in rows:
        if row["workspaceId"] == workspace_id:
            return row
    return None


async def latest_thread(ctx: Any, conversation_id: str) -> Doc | None:
    """The conversation's most recent email (in or out), or None."""
    return await (
        ctx.db.query("emailThreads")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation_id))
        .order("desc")
        .first()
    )


async def record_thread(
    ctx: Any,
    conversation: Doc,
    *,
    message_id: str,
    subject: str,
    sender_email: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> str:
    """Remember one email of ``conversation`` so later replies find it; returns the row id."""
    return await ctx.db.insert(
        "emailThreads",
        {
            "workspaceId": conversation["workspaceId"],
            "conversationId": conversation["_id"],
            "messageId": message_id,
            "inReplyTo": in_reply_to or UNDEFINED,
            "references": references or UNDEFINED,
            "subject": subject,
            "normalizedSubject": normalize_subject(subject),
            "senderEmail": sender_email,
            "createdAt": now_ms(),
        },
    )


async def _conversation_of_thread(ctx: Any, thread: Doc | None) -> Doc | None:
    return await ctx.db.get(thread["conversationId"]) if thread is not None else None


async def continued_conversation(ctx: Any, workspace_id: str, email: dict[str, Any]) -> Doc | None:
    """The conversation an inbound email answers (see the module docstring), or None."""
    for message_id in [email.get("inReplyTo"), *reversed(email.get("references", []))]:
        if message_id:
            found = await _conversation_of_thread(ctx, await thread_of_message(ctx, workspace_id, message_id))
            if found is not None:
                return found
    subject = normalize_subject(email["subject"])
    if not subject:
        return None
    same_subject = await (
        ctx.db.query("emailThreads")
        .with_index(
            "by_subject_sender",
            lambda q: (
                q.eq("workspaceId", workspace_id).eq("normalizedSubject", subject).eq("senderEmail", email["from"])
            ),
        )
        .order("desc")
        .first()
    )
    return await _conversation_of_thread(ctx, same_subject)


async def email_visitor(ctx: Any, workspace_id: str, address: str, name: str | None) -> Doc:
    """The workspace's visitor for an email address (the earliest one), created if there is none."""
    visitor = await canonical_visitor_for_email(ctx, workspace_id, address)
    now = now_ms()
    if visitor is not None:
        patch: dict[str, Any] = {"lastSeenAt": now}
        if name and not visitor.get("name"):
            patch["name"] = name
        await ctx.db.patch(visitor["_id"], patch)
        return await ensure_readable_id(ctx, await ctx.db.get(visitor["_id"]))
    visitor_id = await ctx.db.insert(
        "visitors",
        {
            "sessionId": f"email-{address}-{int(now)}",
            "workspaceId": workspace_id,
            "email": address,
            "name": name or UNDEFINED,
            "firstSeenAt": now,
            "lastSeenAt": now,
            "createdAt": now,
        },
    )
    return await ensure_readable_id(ctx, await ctx.db.get(visitor_id))


async def _open_email_conversation(ctx: Any, workspace_id: str, visitor_id: str, subject: str) -> Doc:
    now = now_ms()
    conversation_id = await ctx.db.insert(
        "conversations",
        {
            "workspaceId": workspace_id,
            "visitorId": visitor_id,
            "status": "open",
            "channel": EMAIL,
            "subject": subject,
            "createdAt": now,
            "updatedAt": now,
            "lastMessageAt": now,
            "aiWorkflowState": "none",
        },
    )
    return await ctx.db.get(conversation_id)


async def _reopened(ctx: Any, conversation: Doc) -> Doc:
    if conversation["status"] != "closed":
        return conversation
    await ctx.db.patch(conversation["_id"], {"status": "open", "resolvedAt": UNDEFINED, "updatedAt": now_ms()})
    return await ctx.db.get(conversation["_id"])


async def _already_filed(ctx: Any, workspace_id: str, message_id: str) -> dict[str, str] | None:
    # Webhooks are retried: the same Message-ID twice is one email, filed once.
    thread = await thread_of_message(ctx, workspace_id, message_id)
    if thread is None:
        return None
    messages = ctx.db.query("messages").with_index(
        "by_email_message_id", lambda q: q.eq("emailMetadata.messageId", message_id)
    )
    async for message in messages:
        if message["conversationId"] == thread["conversationId"]:
            return {"conversationId": thread["conversationId"], "messageId": message["_id"]}
    return None


async def file_inbound_email(ctx: Any, workspace_id: str, email: dict[str, Any], *, forwarded: bool) -> dict[str, str]:
    """File an inbound email (``InboundEmail.to_args()``) as a visitor message; ``{conversationId, messageId}``.

    ``forwarded``: the email was forwarded in by someone else; ``originalFrom``/``originalName``
    (when present) name its author, and it always starts a new conversation.
    """
    filed = await _already_filed(ctx, workspace_id, email["messageId"])
    if filed is not None:
        return filed
    author = email.get("originalFrom") if forwarded else None
    address = author or email["from"]
    name = email.get("originalName") if author else email.get("fromName")
    visitor = await email_visitor(ctx, workspace_id, address, name)
    subject = without_prefix(email["subject"]) if forwarded else email["subject"]
    conversation = None if forwarded else await continued_conversation(ctx, workspace_id, email)
    if conversation is None:
        conversation = await _open_email_conversation(ctx, workspace_id, visitor["_id"], subject)
    else:
        conversation = await _reopened(ctx, conversation)
    metadata = {field: email[field] for field in _METADATA_FIELDS if email.get(field) not in (None, "", [], UNDEFINED)}
    message_id = await append_message(
        ctx,
        conversation,
        sender_type="visitor",
        sender_id=visitor["_id"],
        content=email["html"] or email["text"],
        extra={"channel": EMAIL, "emailMetadata": metadata},
    )
    await record_thread(
        ctx,
        conversation,
        message_id=email["messageId"],
        subject=subject,
        sender_email=address,
        in_reply_to=email.get("inReplyTo"),
        references=email.get("references"),
    )
    return {"conversationId": conversation["_id"], "messageId": message_id}
