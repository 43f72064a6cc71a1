"""Reading an inbound-email webhook payload (Resend's) into the fields the email channel stores.

The payload carries ``from``, ``to`` (string or list), ``cc``, ``subject``, ``text``, ``html`` and
``headers`` (an object, or a list of ``{name, value}``), either at the top level or under
``data`` (Resend's ``{"type": "email.received", "data": {...}}`` envelope). Addresses are
compared lower-cased; Message-IDs are kept in their ``<...>`` form so that an ``In-Reply-To``
written by any mail client finds the message it answers. Nothing here touches the database.
"""

import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from typing import Any

from runtime import UNDEFINED

_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?)\s*:\s*", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"^\s*fwd?\s*:", re.IGNORECASE)
_FORWARD_MARKER = re.compile(r"^\s*-{2,}\s*forwarded", re.IGNORECASE | re.MULTILINE)
_FROM_LINE = re.compile(r"^\s*From:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"<[^>]*>")


class InvalidInboundEmail(ValueError):
    """The payload is not an email we can file (e.g. it has no sender address)."""


def parse_mailbox(text: str) -> tuple[str | None, str | None]:
    """``(display name or None, lower-cased address or None)`` of ``"Name <a@b>"`` or ``"a@b"``."""
    name, address = parseaddr(text or "")
    address = address.strip().lower()
    return (name.strip() or None), (address if "@" in address else None)


def addresses(value: Any) -> tuple[str, ...]:
    """The lower-cased addresses in a header value: a string (comma-separated) or a list of them."""
    items = value if isinstance(value, list) else [value]
    texts = [item for item in items if isinstance(item, str)]
    return tuple(address.strip().lower() for _, address in getaddresses(texts) if "@" in address)


def normalize_message_id(raw: Any) -> str | None:
    """``<id>`` for ``id``, ``<id>`` or `` <id> ``; None when empty."""
    core = raw.strip().strip("<>").strip() if isinstance(raw, str) else ""
    return f"<{core}>" if core else None


def without_prefix(subject: str) -> str:
    """``subject`` without one leading Re:/Fwd:/Fw: prefix."""
    return _REPLY_PREFIX.sub("", subject, count=1).strip()


def normalize_subject(subject: str) -> str:
    """The subject threads are matched on: one Re:/Fwd:/Fw: prefix dropped, spaces collapsed, lower-case."""
    return " ".join(without_prefix(subject).split()).lower()


def _header(headers: Any, name: str) -> str | None:
    if isinstance(headers, dict):
        pairs = headers.items()
    elif isinstance(headers, list):
        pairs = ((item.get("name"), item.get("value")) for item in headers if isinstance(item, dict))
    else:
        return None
    for key, value in pairs:
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


@dataclass(frozen=True)
class InboundEmail:
    """One received email, normalised."""

    sender: str
    sender_name: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]

    @property
    def forwarded(self) -> bool:
        """Whether a person forwarded this mail in (subject "Fwd:"/"Fw:" or a forwarded-message marker)."""
        return bool(_FORWARD_SUBJECT.match(self.subject)) or bool(_FORWARD_MARKER.search(self.text or self.html))

    def original_sender(self) -> tuple[str | None, str | None]:
        """The first ``From:`` line of the forwarded part (or the body), its author; (None, None) if absent."""
        body = self.text or _TAG.sub("\n", self.html)
        marker = _FORWARD_MARKER.search(body)
        for match in _FROM_LINE.finditer(body, marker.end() if marker else 0):
            name, address = parse_mailbox(match.group(1))
            if address:
                return name, address
        return None, None

    def to_args(self) -> dict[str, Any]:
        """The email as arguments of ``emailChannel:processInboundEmail``/``processForwardedEmail``."""
        original_name, original_from = self.original_sender() if self.forwarded else (None, None)
        return {
            "originalFrom": original_from or UNDEFINED,
            "originalName": original_name or UNDEFINED,
            "from": self.sender,
            "fromName": self.sender_name or UNDEFINED,
            "to": list(self.to),
            "cc": list(self.cc),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "messageId": self.message_id,
            "inReplyTo": self.in_reply_to or UNDEFINED,
            "references": list(self.references),
        }


def parse_inbound(payload: Any, fallback_message_id: str) -> InboundEmail:
    """The email in a webhook payload; ``fallback_message_id`` names it when it has no Message-ID."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = payload["data"]
    if not isinstance(payload, dict):
        raise InvalidInboundEmail("payload is not a JSON object")
    sender_name, sender = parse_mailbox(payload.get("from") if isinstance(payload.get("from"), str) else "")
    if sender is None:
        raise InvalidInboundEmail("payload has no sender address")
    headers = payload.get("headers")
    message_id = normalize_message_id(_header(headers, "message-id") or payload.get("message_id"))
    message_id = message_id or normalize_message_id(fallback_message_id)
    if message_id is None:
        raise InvalidInboundEmail("payload has no Message-ID")
    references = tuple(
        reference
        for reference in (normalize_message_id(part) for part in (_header(headers, "references") or "").split())
        if reference
    )
    return InboundEmail(
        sender=sender,
        sender_name=sender_name,
        to=addresses(payload.get("to")),
        cc=addresses(payload.get("cc")),
        subject=payload["subject"].strip() if isinstance(payload.get("subject"), str) else "",
        text=payload["text"] if isinstance(payload.get("text"), str) else "",
        html=payload["html"] if isinstance(payload.get("html"), str) else "",
        message_id=message_id,
        in_reply_to=normalize_message_id(_header(headers, "in-reply-to")),
        references=references,
    )
