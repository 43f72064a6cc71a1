"""One campaign email for one recipient: variables filled in, links tracked, an open pixel, an unsubscribe link.

A campaign's links are exactly the ``href="http(s)://…"`` attributes of its content (inside its
template, when it has one) after the recipient's variables are filled in. The click endpoint
redirects only to one of those, recomputed from the stored campaign for the recipient who clicked,
so a tracking link can never be turned into an open redirect.
"""

import html
import re
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from .email_provider import OutgoingEmail
from .identity import Doc

TRACKING_TOKEN = re.compile(r"^ect_[a-f0-9]{48}$")
MAX_TRACKED_URL = 2048
OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH = "/email/open", "/email/click", "/email/unsubscribe"
DEFAULT_SENDER = "campaigns@opencom.local"

_VARIABLE = re.compile(r"\{\{\s*user\.([A-Za-z0-9_\-]+)\s*\}\}")
_HREF = re.compile(r"""href\s*=\s*(["'])(https?://[^"'\s<>]+)\1""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def new_tracking_token() -> str:
    """``ect_`` and 48 hex digits (24 random bytes), Opencom's token shape."""
    return "ect_" + secrets.token_hex(24)


def substitute(content: str, visitor: Doc, escape: bool) -> str:
    """``{{user.name}}``, ``{{user.email}}`` and ``{{user.<custom attribute>}}`` filled in ("" when missing)."""
    custom = visitor.get("customAttributes") or {}

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        found = visitor.get(key) if key in ("name", "email") else custom.get(key)
        text = "" if found is None else _js_string(found)
        return html.escape(text) if escape else text

    return _VARIABLE.sub(value, content)


def _js_string(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def body_html(campaign: Doc, template: Doc | None) -> str:
    """The campaign's HTML before personalisation: its content, inside the template's ``{{content}}``."""
    if template is not None and "{{content}}" in template["html"]:
        return template["html"].replace("{{content}}", campaign["content"])
    return campaign["content"]


def campaign_links(campaign: Doc, template: Doc | None, visitor: Doc) -> set[str]:
    """Every URL the recipient's copy of the campaign links to (the click endpoint's allow-list)."""
    personal = substitute(body_html(campaign, template), visitor, escape=True)
    return {html.unescape(match.group(2)) for match in _HREF.finditer(personal)}


def acceptable_url(url: str) -> bool:
    """An absolute http(s) URL without credentials, at most ``MAX_TRACKED_URL`` characters."""
    if len(url) > MAX_TRACKED_URL:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.username or parts.password)


def render(campaign: Doc, template: Doc | None, visitor: Doc, recipient: Doc, site_url: str, sender: str) -> OutgoingEmail:
    """The email ``recipient`` receives: tracked links, a 1x1 open pixel and an unsubscribe link."""
    token = recipient["trackingToken"]
    base = site_url.rstrip("/")

    def tracked(match: re.Match[str]) -> str:
        target = html.unescape(match.group(2))
        link = f"{base}{CLICK_PATH}?t={token}&u={quote(target, safe='')}"
        return f'href="{html.escape(link)}"'

    personal = substitute(body_html(campaign, template), visitor, escape=True)
    unsubscribe = f"{base}{UNSUBSCRIBE_PATH}?t={token}"
    pixel = f'<img src="{base}{OPEN_PATH}?t={token}" width="1" height="1" alt="" style="display:none">'
    footer = f'<p style="font-size:12px"><a href="{html.escape(unsubscribe)}">Unsubscribe</a></p>'
    text = html.unescape(_TAG.sub("", personal)).strip() + f"\n\nUnsubscribe: {unsubscribe}\n"
    return OutgoingEmail(
        purpose="campaign",
        sender=sender,
        to=(recipient["email"],),
        subject=substitute(campaign["subject"], visitor, escape=False),
        text=text,
        html=_HREF.sub(tracked, personal) + footer + pixel,
        message_id=f"<{recipient['_id']}.campaign@{sender.rpartition('@')[2].rstrip('>') or 'localhost'}>",
        workspace_id=campaign["workspaceId"],
        campaign_id=campaign["_id"],
        recipient_id=recipient["_id"],
    )
