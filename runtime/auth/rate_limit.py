"""Sign-in attempts per account, limited so that passwords cannot be guessed at speed.

Each account identifier (the normalised email) has a token bucket of
``AUTH_SIGN_IN_MAX_FAILURES`` attempts that refills evenly over ``AUTH_SIGN_IN_FAILURE_WINDOW_S``.
An attempt is *spent before* the password is checked, inside the same serialized mutation that
reads the bucket, so parallel guesses cannot slip past the limit; a successful sign-in refunds
everything, so in effect only failures count.

``spend`` is the same bucket with the caller's own limit, window and refusal, for other things
worth limiting (emailed codes per address and per client, say); identifiers share one table, so
give each use a prefix of its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.tokens.errors import auth_failure

if TYPE_CHECKING:
    from runtime.functions.context import MutationCtx


async def spend_attempt(ctx: MutationCtx, identifier: str, now: float) -> None:
    """Spend one sign-in attempt of ``identifier`` at ``now`` (ms), or raise ``TooManyFailedAttempts``."""
    await spend(
        ctx,
        identifier,
        now,
        limit=knobs.AUTH_SIGN_IN_MAX_FAILURES,
        window_s=knobs.AUTH_SIGN_IN_FAILURE_WINDOW_S,
        code="TooManyFailedAttempts",
        message="Too many failed sign-in attempts for this account",
    )


async def spend(
    ctx: MutationCtx, identifier: str, now: float, *, limit: int, window_s: float, code: str, message: str
) -> None:
    """Spend one of ``limit`` uses of ``identifier`` that refill over ``window_s``; when none is left raise
    ``ConvexError({code, message + "; try again in N seconds"})``."""
    refill_per_ms = limit / (window_s * 1000)
    row = await _bucket(ctx, identifier)
    if row is None:
        await ctx.db.insert(
            "authRateLimits", {"identifier": identifier, "lastAttemptTime": now, "attemptsLeft": float(limit - 1)}
        )
        return
    available = min(float(limit), row["attemptsLeft"] + (now - row["lastAttemptTime"]) * refill_per_ms)
    if available < 1:
        wait_s = math.ceil((1 - available) / refill_per_ms / 1000)
        raise auth_failure(code, f"{message}; try again in {wait_s} seconds")
    await ctx.db.patch(row["_id"], {"attemptsLeft": available - 1, "lastAttemptTime": now})


async def reset_attempts(ctx: MutationCtx, identifier: str) -> None:
    """Forget the attempts of ``identifier`` (after a successful sign-in)."""
    row = await _bucket(ctx, identifier)
    if row is not None:
        await ctx.db.delete(row["_id"])


async def _bucket(ctx: MutationCtx, identifier: str) -> dict[str, Any] | None:
    return (
        await ctx.db.query("authRateLimits").with_index("identifier", lambda q: q.eq("identifier", identifier)).unique()
    )
