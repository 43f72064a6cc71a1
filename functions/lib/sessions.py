"""Widget session tokens: minting, lifetimes, and resolving a token to its visitor.

A token is ``wst_`` + 64 lowercase hex characters (256 random bits), stored as-is and looked up
through ``by_token``. Every visitor-facing function goes through ``resolve_session``: the token
must exist, belong to the workspace being touched, and not be expired.
"""

import secrets
from typing import Any

from .clock import HOUR_MS, now_ms
from .errors import NOT_AUTHENTICATED, NOT_AUTHORIZED, SESSION_EXPIRED, fail
from .identity import Doc

TOKEN_PREFIX = "wst_"
DEFAULT_LIFETIME_MS = 24 * HOUR_MS
MIN_LIFETIME_MS = HOUR_MS
MAX_LIFETIME_MS = 7 * 24 * HOUR_MS
REFRESH_THRESHOLD = 0.25  # clients refresh once less than this fraction of the lifetime remains


def new_session_token() -> str:
    """A fresh, unguessable widget session token."""
    return TOKEN_PREFIX + secrets.token_hex(32)


def clamp_lifetime(lifetime_ms: float | None) -> float:
    """A workspace's session lifetime: absent or 0 means 24 h, otherwise clamped to [1 h, 7 d]."""
    if not lifetime_ms:
        return DEFAULT_LIFETIME_MS
    return min(max(float(lifetime_ms), MIN_LIFETIME_MS), MAX_LIFETIME_MS)


def refresh_due(expires_at: float, lifetime_ms: float, now: float) -> bool:
    """Whether a client holding a token that expires at ``expires_at`` should refresh it now."""
    return expires_at - now < lifetime_ms * REFRESH_THRESHOLD


async def session_by_token(ctx: Any, token: str) -> Doc | None:
    """The session row for ``token``, or None."""
    return await ctx.db.query("widgetSessions").with_index("by_token", lambda q: q.eq("token", token)).first()


async def live_session(ctx: Any, token: str | None) -> Doc | None:
    """The unexpired session of ``token`` in any workspace, or None; for soft checks."""
    session = await session_by_token(ctx, token) if token else None
    if session is None or session["expiresAt"] < now_ms():
        return None
    return session


async def resolve_session(ctx: Any, token: str | None, workspace_id: str, visitor_id: str | None = None) -> Doc:
    """The live session of ``token`` in ``workspace_id``; refuses missing, unknown, foreign or expired tokens.

    A ``visitor_id`` the caller names must be the session's visitor.
    """
    if not token:
        fail(NOT_AUTHENTICATED, "Session token required")
    session = await session_by_token(ctx, token)
    if session is None:
        fail(NOT_AUTHENTICATED, "Invalid session token")
    if session["workspaceId"] != workspace_id:
        fail(NOT_AUTHORIZED, "Session token does not match workspace")
    if session["expiresAt"] < now_ms():
        fail(SESSION_EXPIRED, "Session expired")
    if visitor_id is not None and visitor_id != session["visitorId"]:
        fail(NOT_AUTHORIZED, "Not authorized for requested visitor")
    return session


async def resolve_visitor(ctx: Any, token: str | None, workspace_id: str, visitor_id: str | None = None) -> str:
    """The visitor id a token of ``workspace_id`` stands for (see ``resolve_session``)."""
    return (await resolve_session(ctx, token, workspace_id, visitor_id))["visitorId"]
