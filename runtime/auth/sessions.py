"""Sign-in sessions and their refresh tokens as rows, and reading the signed-in user back.

A session is an ``authSessions`` row; the access JWT's subject is ``"<userId>|<sessionId>"``, as
in Convex Auth. The client's refresh token is ``"<authRefreshTokens id>|<secret>"`` and only the
SHA-256 of the secret is stored, so a leaked database does not leak usable tokens.

Refresh tokens rotate: each use marks the token used and issues a child. A used token presented
again within ``AUTH_REFRESH_REUSE_WINDOW_S`` (two tabs refreshing at once) gets another child;
later, it can only be a stolen copy, so the whole session ends. These helpers run inside the
sign-in library's internal mutation; ``get_auth_user_id`` runs anywhere.

Signing out deletes the session, and ``verify_live_token`` (the server's token check, on every
HTTP call and WebSocket ``Authenticate``) refuses an access token of the built-in issuer whose
session is gone or expired, so a token stops working at once rather than when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.functions.definitions import internal_query
from runtime.tokens.errors import AuthError
from runtime.values.validators import v

if TYPE_CHECKING:
    from runtime.functions.context import ActionCtx, MutationCtx, QueryCtx
    from runtime.functions.executor import Executor
    from runtime.tokens.identity import Identity

SUBJECT_DIVIDER = "|"
REFRESH_TOKEN_DIVIDER = "|"
_SECRET_BYTES = 32


def now_ms() -> float:
    """Milliseconds since the epoch, the unit of every ``*Time`` field."""
    return time.time() * 1000.0


def hash_secret(secret: str) -> str:
    """What is stored for a refresh-token secret (high-entropy, so one SHA-256 suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_refresh_secret() -> tuple[str, str]:
    """A fresh refresh-token secret and its stored hash."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return secret, hash_secret(secret)


def refresh_token_text(token_id: str, secret: str) -> str:
    """The refresh token handed to the client."""
    return f"{token_id}{REFRESH_TOKEN_DIVIDER}{secret}"


def parse_refresh_token(text: object) -> tuple[str, str] | None:
    """(token id, secret) of a client's refresh token, or None if it is not shaped like one."""
    if not isinstance(text, str):
        return None
    token_id, divider, secret = text.partition(REFRESH_TOKEN_DIVIDER)
    return (token_id, secret) if divider and token_id and secret else None


async def start_session(ctx: MutationCtx, user_id: str, refresh_secret_hash: str) -> dict[str, str]:
    """A new session for ``user_id`` with its first refresh token: ``{userId, sessionId, refreshTokenId}``."""
    now = now_ms()
    session_id = await ctx.db.insert(
        "authSessions", {"userId": user_id, "expirationTime": now + knobs.AUTH_SESSION_LIFETIME_S * 1000}
    )
    token_id = await _new_refresh_token(ctx, session_id, refresh_secret_hash, now, parent=None)
    return {"userId": user_id, "sessionId": session_id, "refreshTokenId": token_id}


async def refresh_session(
    ctx: MutationCtx, token_id: str, secret_hash: str, new_secret_hash: str
) -> dict[str, str] | None:
    """Rotate a refresh token: the session's ids and the child token's id, or None if it is no longer valid."""
    row_id = ctx.db.normalize_id("authRefreshTokens", token_id)
    row = await ctx.db.get(row_id) if row_id is not None else None
    if row is None or not hmac.compare_digest(row["secretHash"], secret_hash):
        return None
    now = now_ms()
    session = await ctx.db.get(row["sessionId"])
    if session is None or session["expirationTime"] <= now:
        await end_session(ctx, row["sessionId"])
        return None
    if row["expirationTime"] <= now:
        return None
    first_used = row.get("firstUsedTime")
    if first_used is None:
        await ctx.db.patch(row["_id"], {"firstUsedTime": now})
        await _forget_parent(ctx, row)
    elif now - first_used > knobs.AUTH_REFRESH_REUSE_WINDOW_S * 1000:
        await end_session(ctx, session["_id"])
        return None
    child = await _new_refresh_token(ctx, session["_id"], new_secret_hash, now, parent=row["_id"])
    return {"userId": session["userId"], "sessionId": session["_id"], "refreshTokenId": child}


async def end_session(ctx: MutationCtx, session_id: str) -> None:
    """Delete a session and every refresh token of it (signing out; a detected token theft)."""
    tokens = (
        await ctx.db.query("authRefreshTokens")
        .with_index("sessionId", lambda q: q.eq("sessionId", session_id))
        .collect()
    )
    for token in tokens:
        await ctx.db.delete(token["_id"])
    if await ctx.db.get(session_id) is not None:
        await ctx.db.delete(session_id)


async def get_auth_user_id(ctx: QueryCtx | ActionCtx) -> str | None:
    """The signed-in user's id (the part of the token's subject before ``|``), or None when signed out."""
    identity = await ctx.auth.get_user_identity()
    if identity is None:
        return None
    return str(identity["subject"]).partition(SUBJECT_DIVIDER)[0]


async def get_auth_session_id(ctx: QueryCtx | ActionCtx) -> str | None:
    """The current session's id (the part of the subject after ``|``), or None."""
    identity = await ctx.auth.get_user_identity()
    if identity is None:
        return None
    return str(identity["subject"]).partition(SUBJECT_DIVIDER)[2] or None


async def _new_refresh_token(
    ctx: MutationCtx, session_id: str, secret_hash: str, now: float, *, parent: str | None
) -> str:
    fields: dict[str, Any] = {
        "sessionId": session_id,
        "expirationTime": now + knobs.AUTH_SESSION_INACTIVE_S * 1000,
        "secretHash": secret_hash,
    }
    if parent is not None:
        fields["parentRefreshTokenId"] = parent
    return str(await ctx.db.insert("authRefreshTokens", fields))


async def _forget_parent(ctx: MutationCtx, row: dict[str, Any]) -> None:
    # Once a child is in use its parent can never be validly presented again; presenting it would
    # only fail, so the row is dropped to keep a long session from piling up tokens.
    parent = row.get("parentRefreshTokenId")
    if parent is not None and await ctx.db.get(parent) is not None:
        await ctx.db.delete(parent)


@internal_query(args={"sessionId": v.string()})
async def _session_is_live(ctx: QueryCtx, args: dict[str, Any]) -> bool:
    session_id = ctx.db.normalize_id("authSessions", args["sessionId"])
    session = await ctx.db.get(session_id) if session_id is not None else None
    return session is not None and session["expirationTime"] > now_ms()


async def verify_live_token(executor: Executor, token: str) -> Identity:
    """The identity of ``token`` (``executor.auth.verify``), refused if it names a session that has ended.

    Only tokens of the deployment's own issuer name a session (subject ``"<userId>|<sessionId>"``),
    and only in an app with the sign-in tables; other tokens are judged by their signature alone.
    """
    identity = await executor.auth.verify(token)
    schema = executor.app.schema
    _, divider, session_id = str(identity.get("subject", "")).partition(SUBJECT_DIVIDER)
    if identity.get("issuer") != executor.auth.issuer.url or not divider or schema is None:
        return identity
    if "authSessions" not in schema.tables:
        return identity
    if not (await executor.run_function(_session_is_live, {"sessionId": session_id})).unwrap():
        raise AuthError("The token's sign-in session has ended: sign in again", "InvalidAuthHeader")
    return identity
