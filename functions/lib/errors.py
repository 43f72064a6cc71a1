"""Opencom's error vocabulary: every refusal is ``ConvexError({"code": ..., "message": ...})``.

Clients branch on ``code`` (the API reference's error codes) and show ``message``; the messages
keep Opencom's wording ("Not authenticated", "Permission denied: <permission>", ...) because
clients and tests match on them.
"""

from typing import NoReturn

from runtime import ConvexError

NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
SESSION_EXPIRED = "SESSION_EXPIRED"
NOT_AUTHORIZED = "NOT_AUTHORIZED"
PERMISSION_DENIED = "PERMISSION_DENIED"
NOT_WORKSPACE_MEMBER = "NOT_WORKSPACE_MEMBER"
NOT_FOUND = "NOT_FOUND"
ALREADY_EXISTS = "ALREADY_EXISTS"
INVALID_INPUT = "INVALID_INPUT"
RATE_LIMITED = "RATE_LIMITED"


def fail(code: str, message: str) -> NoReturn:
    """Abort the function (and its transaction) with a coded Opencom error."""
    raise ConvexError({"code": code, "message": message})


def not_found(entity: str) -> NoReturn:
    """``<Entity> not found``, the message Opencom uses for every missing document."""
    fail(NOT_FOUND, f"{entity} not found")
