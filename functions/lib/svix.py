"""Svix webhook signatures, as Resend signs its inbound-email webhooks.

The signed content is ``"<svix-id>.<svix-timestamp>.<raw body>"``; the key is the base64 part of
the ``whsec_...`` secret; ``svix-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>``
entries (several during secret rotation), any one of which may match. The timestamp must be
within five minutes of now, which stops replays of captured requests.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not a fresh, authentic webhook call; the message says why."""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"Missing required header {name}")


def _key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WebhookVerificationError("Webhook secret is not valid base64") from error


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<signature>`` entry a sender with ``secret`` puts in ``svix-signature``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, now_seconds: float) -> None:
    """Accept a webhook request or raise ``WebhookVerificationError``.

    ``body`` must be the raw request bytes: re-serialised JSON would not match the signature.
    """
    message_id = _header(headers, "svix-id")
    raw_timestamp = _header(headers, "svix-timestamp")
    signatures = _header(headers, "svix-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as error:
        raise WebhookVerificationError("Invalid signature headers") from error
    if timestamp < now_seconds - TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp too old")
    if timestamp > now_seconds + TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp too new")
    expected = sign(secret, message_id, timestamp, body).encode()
    for entry in signatures.split():
        version, _, _signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(entry.encode(), expected):
            return
    raise WebhookVerificationError("No matching signature found")
