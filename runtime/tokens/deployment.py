"""Everything one deployment needs to decide who is calling, in one object: ``executor.auth``.

It ties the app's ``auth_config.py`` (the issuers it trusts), the deployment's own issuer (whose
key the sign-in library signs with), the JWKS cache for remote issuers and the admin key. Key
material is created lazily, on first use, so opening an executor stays cheap. ``site_url`` is
read whenever a token is signed or verified: it is the issuer URL, which the server only learns
when it binds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.tokens.admin_key import admin_keys_equal, ensure_admin_key
from runtime.tokens.config import AuthConfig
from runtime.tokens.issuer import BuiltinIssuer
from runtime.tokens.jwks import JwksCache
from runtime.tokens.verifier import TokenVerifier, VerifiedToken

if TYPE_CHECKING:
    from runtime.tokens.identity import Identity


class DeploymentAuth:
    """Token verification, the built-in issuer and the admin key of the deployment at ``data_dir``."""

    def __init__(self, data_dir: Path, config: AuthConfig | None, *, site_url: Callable[[], str]) -> None:
        self.data_dir = data_dir
        self.issuer = BuiltinIssuer(data_dir, site_url)
        self.jwks = JwksCache()
        self.verifier = TokenVerifier(config.providers if config else (), issuer=self.issuer, jwks=self.jwks)
        self._admin_key: str | None = None

    async def verify(self, token: str) -> Identity:
        """The identity a user token proves; ``AuthError`` (with Convex's message) when it proves none."""
        return (await self.verifier.verify(token)).identity

    async def verify_token(self, token: str) -> VerifiedToken:
        """Like ``verify``, plus when the token expires (to end a WebSocket identity on time)."""
        return await self.verifier.verify(token)

    @property
    def admin_key(self) -> str:
        """The deployment's admin key (created on first use, see ``runtime.tokens.admin_key``)."""
        if self._admin_key is None:
            self._admin_key = ensure_admin_key(self.data_dir)
        return self._admin_key

    def is_admin_key(self, value: object) -> bool:
        """Whether ``value`` is this deployment's admin key (constant-time comparison)."""
        return admin_keys_equal(self.admin_key, value)

    async def close(self) -> None:
        """Release the HTTP session used to fetch remote keys."""
        await self.jwks.close()
