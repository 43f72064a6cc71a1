"""Whether an email webhook request may be processed: the deployment's signing policy.

The secret is the ``whsec_...`` value of the environment variable ``RESEND_WEBHOOK_SECRET``;
requests must carry a valid Svix signature made with it less than five minutes ago
(``lib/svix``). A deployment without a secret refuses every request, unless
``ENFORCE_WEBHOOK_SIGNATURES`` is exactly "false" (local development without a Resend account):
only then are unsigned requests accepted. A configured secret is always enforced.
"""

import time
from collections.abc import Mapping

from .svix import WebhookVerificationError, verify_webhook

SECRET_VARIABLE = "RESEND_WEBHOOK_SECRET"
ENFORCE_VARIABLE = "ENFORCE_WEBHOOK_SIGNATURES"
SIGNATURE_HEADER = "svix-signature"


def webhook_refusal(
    env: Mapping[str, str], headers: Mapping[str, str], body: bytes, now_seconds: float | None = None
) -> str | None:
    """Why the request must be refused with 401 (Opencom's error text), or None to process it."""
    secret = env.get(SECRET_VARIABLE)
    if not secret:
        return None if env.get(ENFORCE_VARIABLE) == "false" else "Webhook configuration error"
    if not any(name.lower() == SIGNATURE_HEADER for name in headers):
        return "Missing signature"
    try:
        verify_webhook(secret, headers, body, time.time() if now_seconds is None else now_seconds)
    except WebhookVerificationError:
        return "Invalid signature"
    return None
