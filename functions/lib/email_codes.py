"""The email-code sign-in's codes and the email that carries them (auth-and-permissions §1.1).

A code is 6 random digits, valid for 10 minutes; requests are limited per address and per client.
Only its SHA-256 is stored: a leaked database row does not sign anyone in. The email ("Your Opencom
verification code") comes from the ``EMAIL_FROM`` environment variable's sender, or Opencom's default.
"""

import hashlib
import hmac
import html
import secrets

from .email_provider import OutgoingEmail, new_message_id

PROVIDER = "resend-otp"
CODE_DIGITS = 6
CODE_LIFETIME_MS = 10 * 60 * 1000.0
CODE_REQUEST_WINDOW_S = 3600.0  # the request allowances below refill over this long
CODE_REQUESTS_PER_ADDRESS = 5  # codes one email address may be sent per window
CODE_REQUESTS_PER_CLIENT = 20  # codes one client (network address) may request per window
DEFAULT_SENDER = "Opencom <noreply@support.opencom.dev>"
SUBJECT = "Your Opencom verification code"


def new_code() -> str:
    """A fresh code: ``CODE_DIGITS`` uniformly random decimal digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str) -> str:
    """What is stored for a code."""
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


def code_matches(code: str, stored_hash: str) -> bool:
    """Whether ``code`` is the one ``stored_hash`` was made from (constant time)."""
    return hmac.compare_digest(hash_code(code), stored_hash)


def code_email(to: str, code: str, sender: str | None) -> OutgoingEmail:
    """The verification email for ``code``."""
    sender = sender or DEFAULT_SENDER
    text = f"Your Opencom verification code is {code}.\n\nIt expires in 10 minutes."
    body = (
        "<h1>Your verification code</h1>"
        f'<p style="font-size:32px;letter-spacing:4px"><strong>{html.escape(code)}</strong></p>'
        "<p>This code expires in 10 minutes.</p>"
    )
    return OutgoingEmail(
        purpose="verification-code",
        sender=sender,
        to=(to,),
        subject=SUBJECT,
        text=text,
        html=body,
        message_id=new_message_id(sender),
    )
