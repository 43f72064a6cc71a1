"""Authoring sessions: short-lived tokens that let a dashboard user edit tours/tooltips on the live site.

The dashboard creates a session and opens the customer's site with the token in the URL; the
widget there validates the token and records the selectors the user picks. The token is the only
credential the widget holds, so it is unguessable (32 characters from 62, ~190 bits).
"""

import secrets
import string
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .clock import now_ms
from .errors import NOT_AUTHENTICATED, SESSION_EXPIRED, fail
from .identity import Doc

_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 32
AUTHORING_PARAMS = ("opencom_authoring", "opencom_tooltip_authoring")


def new_authoring_token() -> str:
    """A fresh session token."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def route_of(url: str | None) -> str | None:
    """The path + query of ``url`` without the authoring parameters (a step's ``routePath``)."""
    if not url:
        return None
    split = urlsplit(url)
    if not split.scheme or not split.netloc:
        return None
    query = urlencode([(key, value) for key, value in parse_qsl(split.query, keep_blank_values=True) if key not in AUTHORING_PARAMS])
    return (split.path or "/") + (f"?{query}" if query else "")


async def session_by_token(ctx: Any, table: str, token: str) -> Doc | None:
    """The session row of ``token`` in ``table``, or None."""
    return await ctx.db.query(table).with_index("by_token", lambda q: q.eq("token", token)).first()


async def live_session(ctx: Any, table: str, token: str) -> Doc:
    """The unexpired session of ``token``; NOT_AUTHENTICATED / SESSION_EXPIRED otherwise."""
    session = await session_by_token(ctx, table, token)
    if session is None:
        fail(NOT_AUTHENTICATED, "Session not found")
    if now_ms() > session["expiresAt"]:
        fail(SESSION_EXPIRED, "Session expired")
    return session
