"""Token verification: a bearer JWT in, a Convex identity out — or an ``AuthError`` and no identity.

The steps and messages follow Convex (convex-semantics §6.7): read ``iss`` without trusting it;
pick the first configured provider whose issuer (and audience, if it has an application id)
matches; then verify with that provider's keys and algorithms only. The token's own header never
widens what is accepted: ``alg`` must be on the provider's allow-list (so ``none`` and every HMAC
algorithm are refused outright), the key is looked up by ``kid`` and must be of the type that
algorithm needs. ``exp``, ``iat`` and ``sub`` are required; times are checked with a small leeway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from runtime import knobs
from runtime.tokens.config import BuiltinProvider, CustomJwtProvider, OidcProvider, Provider, normalize_issuer
from runtime.tokens.errors import AuthError
from runtime.tokens.identity import identity_from_claims
from runtime.tokens.issuer import BuiltinIssuer
from runtime.tokens.jwks import JwksCache, JwksUnavailable
from runtime.tokens.key_set import KeySetError, verifier_key

if TYPE_CHECKING:
    from runtime.tokens.identity import Identity

OIDC_FAILURE = (
    "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."
)


@dataclass(frozen=True)
class VerifiedToken:
    """An accepted token: who it speaks for, and when it stops being valid (seconds since the epoch)."""

    identity: Identity
    expires_at: float


@dataclass(frozen=True)
class _Trust:
    """What one matched provider accepts."""

    provider: Provider
    issuer: str
    audience: str | None
    algorithms: tuple[str, ...]
    oidc: bool  # OIDC-style provider: one generic message, unflattened claims, a single audience


class TokenVerifier:
    """Verifies user tokens against an app's providers (see the module docstring for the rules)."""

    def __init__(self, providers: Sequence[Provider], *, issuer: BuiltinIssuer, jwks: JwksCache) -> None:
        self.providers = tuple(providers)
        self.issuer = issuer
        self.jwks = jwks

    async def verify(self, token: str) -> VerifiedToken:
        """The identity ``token`` proves, or ``AuthError`` with Convex's message."""
        header, claims = _unverified(token)
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise AuthError(
                "Missing issuer claim ('iss') in JWT payload. Make sure the token was issued by a provider "
                "listed in auth_config.py."
            )
        trust = self._match(issuer, claims.get("aud"))
        try:
            verified = await self._verify_with(trust, token, header)
        except AuthError as error:
            raise AuthError(f"{OIDC_FAILURE} {error}" if trust.oidc else str(error), error.code) from None
        return VerifiedToken(identity_from_claims(verified, flatten=not trust.oidc), float(verified["exp"]))

    # --- choosing the provider --------------------------------------------------------------
    def _trusts(self) -> list[_Trust]:
        return [self._trust(provider) for provider in self.providers]

    def _trust(self, provider: Provider) -> _Trust:
        if isinstance(provider, BuiltinProvider):
            return _Trust(provider, normalize_issuer(self.issuer.url), provider.application_id, ("RS256",), oidc=True)
        if isinstance(provider, OidcProvider):
            return _Trust(provider, provider.issuer, provider.application_id, provider.algorithms, oidc=True)
        issuer = normalize_issuer(provider.issuer)
        return _Trust(provider, issuer, provider.application_id, (provider.algorithm,), oidc=False)

    def _match(self, issuer: str, audience: Any) -> _Trust:
        audiences = audience if isinstance(audience, list) else [audience]
        trusts = self._trusts()
        for trust in trusts:
            if trust.issuer == normalize_issuer(issuer) and (trust.audience is None or trust.audience in audiences):
                return trust
        configured = ", ".join(f"{t.issuer} (audience {t.audience})" if t.audience else t.issuer for t in trusts)
        raise AuthError(
            f"No auth provider found matching the given token (issuer {issuer!r}, audience {audience!r}). "
            f"Check that the token's issuer and audience match a provider in auth_config.py: [{configured}]",
            "NoAuthProvider",
        )

    # --- verifying with it ------------------------------------------------------------------
    async def _verify_with(self, trust: _Trust, token: str, header: dict[str, Any]) -> dict[str, Any]:
        algorithm = header.get("alg")
        if algorithm not in trust.algorithms:
            raise AuthError(
                f"Could not decode token: its 'alg' header is {algorithm!r}, but this provider only accepts "
                f"{', '.join(trust.algorithms)}."
            )
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("Could not decode token: it has no 'kid' (key ID) header.")
        jwk = await self._signing_key(trust, kid)
        if jwk is None:
            raise AuthError(
                f"Could not decode token. The JWT's 'kid' (key ID) header is '{kid}', does this key match any key "
                "in the provider's JWKS?"
            )
        try:
            key = verifier_key(jwk, algorithm)
        except KeySetError as error:
            raise AuthError(f"Could not decode token: {error}.") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                leeway=knobs.AUTH_LEEWAY_S,
                options={"require": ["exp", "iat", "sub"], "verify_aud": False, "verify_iss": False},
            )
        except InvalidTokenError as error:
            raise _claim_error(error) from None
        if not claims["sub"]:
            raise AuthError("Missing subject")
        if trust.oidc and isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1:
            raise AuthError("Could not validate token: tokens with several audiences are not accepted.")
        return claims

    async def _signing_key(self, trust: _Trust, kid: str) -> dict[str, Any] | None:
        provider = trust.provider
        if isinstance(provider, BuiltinProvider):
            return self.issuer.public_jwk() if kid == self.issuer.kid else None
        if isinstance(provider, CustomJwtProvider) and provider.inline_keys is not None:
            return provider.inline_keys.get(kid)
        location = provider.jwks if isinstance(provider, CustomJwtProvider) else provider.domain
        assert isinstance(location, str)
        try:
            return await self.jwks.key(location, kid, discover=isinstance(provider, OidcProvider))
        except JwksUnavailable as error:
            raise AuthError(f"Could not fetch the provider's keys: {error}") from None


def _unverified(token: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims read without verification, only to choose how to verify."""
    if not isinstance(token, str) or not token:
        raise AuthError("Could not decode token: it is empty or not a string.")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError as error:
        raise AuthError(f"Could not decode token: {error}") from None
    return header, claims


def _claim_error(error: InvalidTokenError) -> AuthError:
    if isinstance(error, MissingRequiredClaimError):
        missing = {"sub": "Missing subject", "exp": "Missing expiry"}
        return AuthError(missing.get(error.claim, f"Could not validate token: missing '{error.claim}' claim."))
    if isinstance(error, InvalidSignatureError):
        return AuthError("Could not decode token: the signature does not match the provider's key.")
    if isinstance(error, ExpiredSignatureError):
        return AuthError("Could not validate token: the token has expired.")
    if isinstance(error, ImmatureSignatureError):
        return AuthError(f"Could not validate token: {error}.")
    return AuthError(f"Could not validate token: {error}")
