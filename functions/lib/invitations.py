"""Workspace invitations: how long they live, when they count, and the email that carries them.

An invitation is pending until it is accepted, cancelled ("declined") or it expires
(``INVITATION_LIFETIME_MS`` after it was sent). Only a pending, unexpired invitation makes its
email's account a member, when that account signs up or accepts it while signed in.
"""

import html
from typing import Any
from urllib.parse import quote

from .clock import DAY_MS, now_ms
from .email_codes import DEFAULT_SENDER
from .email_provider import OutgoingEmail, new_message_id

INVITATION_LIFETIME_MS = 7 * DAY_MS


def invitation_open(invitation: dict[str, Any], now: float | None = None) -> bool:
    """Whether the invitation may still be accepted (pending and not expired)."""
    expires_at = invitation.get("expiresAt")
    return invitation["status"] == "pending" and (expires_at is None or (now or now_ms()) < expires_at)


def invitation_email(
    *, to: str, workspace_name: str, inviter_name: str, base_url: str | None, added: bool, sender: str | None
) -> OutgoingEmail:
    """The email telling ``to`` they were invited to (or, for an existing account, added to) a workspace."""
    sender = sender or DEFAULT_SENDER
    if added:
        subject = f"You've been added to {workspace_name} on Opencom"
        text = f"{inviter_name} added you to the {workspace_name} workspace on Opencom. Sign in to see it."
        body = f"<p>{html.escape(inviter_name)} added you to <strong>{html.escape(workspace_name)}</strong>.</p>"
    else:
        subject = f"You've been invited to join {workspace_name} on Opencom"
        link = f"{(base_url or '').rstrip('/')}/invite/accept?email={quote(to)}"
        text = (
            f"{inviter_name} invited you to join the {workspace_name} workspace on Opencom.\n\n"
            f"Accept within 7 days: {link}"
        )
        body = (
            f"<p>{html.escape(inviter_name)} invited you to join <strong>{html.escape(workspace_name)}</strong>.</p>"
            f'<p><a href="{html.escape(link, quote=True)}">Accept the invitation</a> (valid for 7 days).</p>'
        )
    return OutgoingEmail(
        purpose="workspace-invitation",
        sender=sender,
        to=(to,),
        subject=subject,
        text=text,
        html=body,
        message_id=new_message_id(sender),
    )
