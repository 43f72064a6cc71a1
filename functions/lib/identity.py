"""Who the signed-in agent is: the single place that turns ``ctx.auth`` into a ``users`` document.

The identity's ``subject`` is ``"<userId>|<sessionId>"`` (Convex Auth's shape), read by the auth
library's ``get_auth_user_id``.
"""

from typing import Any

from runtime.auth import get_auth_user_id

from .errors import NOT_AUTHENTICATED, fail

Doc = dict[str, Any]


async def auth_user_id(ctx: Any) -> str | None:
    """The caller's ``users`` id from the identity subject, or None (anonymous or malformed)."""
    user_id = await get_auth_user_id(ctx)
    return ctx.db.normalize_id("users", user_id) if user_id else None


async def current_user(ctx: Any) -> Doc | None:
    """The signed-in agent's user row, or None.

    As in Opencom, a user counts as signed in only when the row has an email, a current
    workspace and a legacy role (every user the sign-up callback creates has all three).
    """
    user_id = await auth_user_id(ctx)
    if user_id is None:
        return None
    user = await ctx.db.get(user_id)
    if user is None or not user.get("email") or not user.get("workspaceId") or not user.get("role"):
        return None
    return user


async def require_user(ctx: Any, message: str = "Not authenticated") -> Doc:
    """The signed-in agent's user row; a NOT_AUTHENTICATED error with ``message`` otherwise.

    A few settings functions keep Opencom's legacy wording "Unauthorized" through ``message``.
    """
    user = await current_user(ctx)
    if user is None:
        fail(NOT_AUTHENTICATED, message)
    return user
