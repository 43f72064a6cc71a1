"""What agents' and visitors' device tokens share: how a transport's failure changes a token.

A failure is counted on the token; one whose error says the device is gone (``invalid_token_error``)
also switches the token's notifications off, so no later send tries it again.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc
from .push_transport import invalid_token_error


async def record_delivery_failure(ctx: Any, token: Doc, error: str, remove: bool) -> tuple[str, float | None]:
    """Delete the token when ``remove``, else count the failure; returns the status ("removed",
    "disabled" or "failure_recorded") and the token's failure count (None when removed)."""
    if remove:
        await ctx.db.delete(token["_id"])
        return "removed", None
    now, dead = now_ms(), invalid_token_error(error)
    failures = float(token.get("failureCount", 0) + 1)
    changes: dict[str, Any] = {"failureCount": failures, "lastFailureAt": now, "lastFailureReason": error, "updatedAt": now}
    if dead:
        changes |= {"notificationsEnabled": False, "disabledAt": now}
    await ctx.db.patch(token["_id"], changes)
    return "disabled" if dead else "failure_recorded", failures
