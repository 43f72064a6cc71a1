"""The two ways authentication fails, and who sees each.

``AuthError`` is a refused credential (a bad JWT or admin key): the server answers the request or
the WebSocket ``Authenticate`` with it instead of running anything. ``auth_failure`` builds the
``ConvexError`` a sign-in function throws (wrong password, too many attempts, ...), whose
``{"code", "message"}`` data reaches the client intact so it can tell the cases apart.
"""

from __future__ import annotations

from runtime.values.errors import ConvexError


class AuthError(Exception):
    """A credential that was refused. ``code`` is Convex's short code; the message says why."""

    def __init__(self, message: str, code: str = "InvalidAuthHeader") -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self)


def auth_failure(code: str, message: str) -> ConvexError:
    """A sign-in failure for the caller: ``ConvexError({"code": code, "message": message})``."""
    return ConvexError({"code": code, "message": message})
