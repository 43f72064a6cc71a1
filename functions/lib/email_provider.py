"""Sending email: the interface every module sends through, and the local provider behind it.

The backend never talks to a mail service from a mutation (mutations cannot do network I/O and
must be safe to retry), so "sending" means handing an ``OutgoingEmail`` to an ``EmailProvider``
inside the caller's transaction. The default, ``OutboxProvider``, writes the message as a row
of the ``outbox`` table (``opencom data outbox`` lists them) with status "written-to-outbox":
nothing leaves the machine and nothing claims it did. Callers record what they know, e.g. an
email reply's message stays ``deliveryStatus: "pending"``.
"""

import html
import secrets
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, Protocol

from runtime import UNDEFINED

from .clock import now_ms

WRITTEN_TO_OUTBOX = "written-to-outbox"


@dataclass(frozen=True)
class OutgoingEmail:
    """One message to send. Addresses are RFC 5322 mailboxes ("Name <a@b>" or "a@b")."""

    purpose: str  # what the outbox row is for: "verification-code" | "conversation-reply" | "campaign"
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    workspace_id: str | None = None
    conversation_id: str | None = None
    campaign_id: str | None = None
    recipient_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What a provider did with a message: its ``status`` and where it can be found."""

    provider: str
    status: str
    record_id: str
    message_id: str


class EmailProvider(Protocol):
    """Something that takes responsibility for an ``OutgoingEmail`` inside a mutation."""

    name: str

    async def deliver(self, ctx: Any, email: OutgoingEmail) -> Delivery: ...


class OutboxProvider:
    """The local provider: every message becomes an ``outbox`` row, and that is all it does."""

    name = "outbox"

    async def deliver(self, ctx: Any, email: OutgoingEmail) -> Delivery:
        """Write ``email`` to the outbox (in the caller's transaction)."""
        record_id = await ctx.db.insert(
            "outbox",
            {
                "workspaceId": email.workspace_id or UNDEFINED,
                "conversationId": email.conversation_id or UNDEFINED,
                "campaignId": email.campaign_id or UNDEFINED,
                "recipientId": email.recipient_id or UNDEFINED,
                "purpose": email.purpose,
                "from": email.sender,
                "to": list(email.to),
                "replyTo": email.reply_to or UNDEFINED,
                "subject": email.subject,
                "text": email.text,
                "html": email.html,
                "messageId": email.message_id,
                "inReplyTo": email.in_reply_to or UNDEFINED,
                "references": list(email.references) or UNDEFINED,
                "provider": self.name,
                "status": WRITTEN_TO_OUTBOX,
                "createdAt": now_ms(),
            },
        )
        return Delivery(self.name, WRITTEN_TO_OUTBOX, record_id, email.message_id)


DEFAULT_PROVIDER: EmailProvider = OutboxProvider()


async def send_email(ctx: Any, email: OutgoingEmail, provider: EmailProvider = DEFAULT_PROVIDER) -> Delivery:
    """Hand ``email`` to ``provider`` (the outbox unless told otherwise)."""
    return await provider.deliver(ctx, email)


def new_message_id(sender: str) -> str:
    """A fresh, globally unique Message-ID (``<random@sender's domain>``) for an email we originate."""
    domain = parseaddr(sender)[1].partition("@")[2] or "localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


def mailbox(address: str, name: str | None = None) -> str:
    """``"Name <address>"``, or the bare address without a name."""
    name = (name or "").replace('"', "").strip()
    return f'"{name}" <{address}>' if name else address


def text_to_html(text: str) -> str:
    """Plain text as a minimal HTML body (escaped, line breaks kept)."""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
