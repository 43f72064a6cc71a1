"""Who is calling: user tokens through a pluggable verifier, admin keys against the configured key.

The sync protocol's ``Authenticate`` frame and the HTTP ``Authorization`` header both end here, so
WebSocket and HTTP callers are judged the same way. Verifying JWTs is another module's job: it
installs itself by assigning ``Authenticator.verify_user_token``. Until then every user token is
refused (with Convex's message for a deployment without auth providers), never accepted blindly.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runtime.tokens.admin_key import split_admin_credential
from runtime.tokens.errors import AuthError
from runtime.tokens.identity import Identity

TokenVerifier = Callable[[str], Awaitable[Identity]]


class AuthenticationError(Exception):
    """A credential that was presented and refused; the message is shown to the client.

    ``code`` is Convex's short code for HTTP error bodies (``{"code": ..., "message": ...}``).
    """

    def __init__(self, message: str, code: str = "Unauthenticated") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity a request runs with, and whether it holds the admin key (internal functions)."""

    identity: Identity | None = None
    admin: bool = False

    @property
    def principal(self) -> str:
        """Who this is, stable across token refreshes: ``tokenIdentifier``, marked when admin.

        What a remembered outcome (a mutation replay) is bound to: a caller with another principal
        never receives it.
        """
        token_identifier = str((self.identity or {}).get("tokenIdentifier", ""))
        return f"admin:{token_identifier}" if self.admin else f"user:{token_identifier}"


ANONYMOUS = Caller()


async def reject_user_tokens(token: str) -> Identity:
    """The default verifier: this deployment has no auth provider, so no user token is valid."""
    raise AuthenticationError(
        "No auth provider found matching the given token. Check that your JWT's issuer and audience match "
        "one of your configured providers: []"
    )


class Authenticator:
    """Turns credentials into a ``Caller``; ``verify_user_token`` is the hook auth providers set."""

    def __init__(self, admin_key: str | None = None) -> None:
        self.verify_user_token: TokenVerifier = reject_user_tokens
        self.admin_key = admin_key

    async def user(self, token: str) -> Caller:
        """The caller a user token stands for, or ``AuthenticationError``."""
        try:
            identity = await self.verify_user_token(token)
        except AuthenticationError:
            raise
        except Exception as error:  # noqa: BLE001 - any verifier failure means "not authenticated"
            code = getattr(error, "code", None)
            message = str(error) or type(error).__name__
            raise AuthenticationError(message, code if isinstance(code, str) else "InvalidAuthHeader") from error
        if not isinstance(identity, dict):
            raise AuthenticationError("The token verifier returned no identity")
        return Caller(identity=identity)

    def admin(self, key: str, acting_as: dict[str, Any] | None = None) -> Caller:
        """The admin caller for a correct admin key (optionally acting as a user identity)."""
        if self.admin_key is None:
            raise AuthenticationError("Admin keys are not accepted: this server has no admin key", "BadAdminKey")
        if not hmac.compare_digest(key.encode(), self.admin_key.encode()):
            raise AuthenticationError("The provided admin key was invalid for this deployment", "BadAdminKey")
        return Caller(identity=dict(acting_as) if acting_as else None, admin=True)

    async def from_header(self, header: str | None) -> Caller:
        """The caller of an HTTP request from its ``Authorization`` header (absent: anonymous)."""
        if not header:
            return ANONYMOUS
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme == "Bearer" and credential:
            return await self.user(credential)
        if scheme == "Convex" and credential:
            try:
                key, acting_as = split_admin_credential(credential)
            except AuthError as error:
                raise AuthenticationError(str(error), "BadAdminKey") from None
            return self.admin(key, acting_as)
        raise AuthenticationError(
            "Authorization header must be `Bearer <token>` or `Convex <admin key>`", "InvalidAuthHeader"
        )

    def require_admin(self, header: str | None) -> None:
        """Guard for operator endpoints: when an admin key is configured, the request must carry it."""
        if self.admin_key is None:
            return
        scheme, _, credential = (header or "").strip().partition(" ")
        if scheme != "Convex":
            raise AuthenticationError("This endpoint requires `Authorization: Convex <admin key>`", "BadAdminKey")
        self.admin(credential.strip())
