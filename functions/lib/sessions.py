"""Widget session tokens: minting, lifetimes, and resolving a token to its visitor.

A token is ``wst_`` + 64 lowercase hex characters (256 random bits), stored as-is and looked up
through ``by_token``. Every visitor-facing function goes through ``resolve_session``: the token
must exist, belong to the workspace being touched, and not be expired.

Opencom's widget leaves the token out of a few calls (``conversations:get``, ``visitors:getBySession``,
sometimes ``visitors:identify``) that it makes on the WebSocket it booted on. So a mutation that
issues or accepts a token also proves that session on its connection (``ctx.connection.prove``),
and a call without a token is served when its connection proved a live session of the visitor it
names. The proof is the session row's id, checked on every use: a revoked, refreshed-away or
expired session proves nothing, and the same bare visitor id from any other connection (or over
HTTP) is worth nothing.
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
SESSION_PROOF = "widgetSession"  # the ctx.connection proof kind: a widget session row's id


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


def prove_session(ctx: Any, session_id: str) -> None:
    """Remember on the caller's connection that it holds this session (mutations only; see above)."""
    prove = getattr(ctx.connection, "prove", None)
    if prove is not None:
        prove(SESSION_PROOF, session_id)


async def connection_session(ctx: Any, workspace_id: str, visitor_id: str) -> Doc | None:
    """A live session of ``visitor_id`` in ``workspace_id`` that the caller's connection proved, or None."""
    for proven_id in ctx.connection.proven(SESSION_PROOF):
        session_id = ctx.db.normalize_id("widgetSessions", proven_id)
        session = await ctx.db.get(session_id) if session_id is not None else None
        if (
            session is not None
            and session["visitorId"] == visitor_id
            and session["workspaceId"] == workspace_id
            and session["expiresAt"] >= now_ms()
        ):
            return session
    return None


async def resolve_session(ctx: Any, token: str | None, workspace_id: str, visitor_id: str | None = None) -> Doc:
    """The live session of ``token`` in ``workspace_id``; refuses missing, unknown, foreign or expired tokens.

    A ``visitor_id`` the caller names must be the session's visitor. Without a token, a session of
    ``visitor_id`` that the caller's connection proved stands in for it.
    """
    if not token:
        proven = await connection_session(ctx, workspace_id, visitor_id) if visitor_id is not None else None
        if proven is None:
            fail(NOT_AUTHENTICATED, "Session token required")
        return proven
    session = await session_by_token(ctx, token)
    if session is None:
        fail(NOT_AUTHENTICATED, "Invalid session token")
    if session["workspaceId"] != workspace_id:
        fail(NOT_AUTHORIZED, "Session token does not match workspace")
    if session["expiresAt"] < now_ms():
        fail(SESSION_EXPIRED, "Session expired")
    if visitor_id is not None and visitor_id != session["visitorId"]:
        fail(NOT_AUTHORIZED, "Not authorized for requested visitor")
    prove_session(ctx, session["_id"])
    return session


async def resolve_visitor(ctx: Any, token: str | None, workspace_id: str, visitor_id: str | None = None) -> str:
    """The visitor id a token of ``workspace_id`` stands for (see ``resolve_session``)."""
    return (await resolve_session(ctx, token, workspace_id, visitor_id))["visitorId"]
