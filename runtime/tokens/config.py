"""An app's auth configuration: which token issuers it trusts (Convex's ``convex/auth.config.ts``).

An app declares it in ``auth_config.py`` beside ``schema.py``::

    from runtime.auth import AuthConfig, BuiltinProvider, CustomJwtProvider, OidcProvider

    auth_config = AuthConfig(providers=[
        BuiltinProvider(),                                   # tokens from this deployment's sign-in
        OidcProvider(domain="https://accounts.example.com", application_id="my-app"),
        CustomJwtProvider(issuer="https://api.example.com", jwks="https://api.example.com/jwks.json"),
    ])

It is its own file, as in Convex, because it is deployment configuration rather than code: it is
loaded before any function module and holds no functions. An app without it trusts no issuer, so
every user token is refused (admin keys still work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.tokens.key_set import ALGORITHM_KEY_TYPES, KeySet, decode_data_uri, parse_key_set

OIDC_ALGORITHMS = ("RS256", "EdDSA")
"""What Convex accepts from OIDC providers."""

BUILTIN_AUDIENCE = "convex"
"""The audience of the built-in issuer's tokens (Convex Auth's ``applicationID``)."""


def normalize_issuer(issuer: str) -> str:
    """Issuers compare as Convex compares them: ``https://`` assumed without a scheme, no trailing ``/``."""
    if "://" not in issuer:
        issuer = f"https://{issuer}"
    return issuer.rstrip("/")


def _check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    for algorithm in algorithms:
        if algorithm not in ALGORITHM_KEY_TYPES:
            raise ValueError(f"algorithm {algorithm!r} is not supported; use one of {', '.join(ALGORITHM_KEY_TYPES)}")
    if not algorithms:
        raise ValueError("a provider needs at least one algorithm")
    return tuple(algorithms)


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class OidcProvider:
    """An OpenID Connect issuer: keys found through ``<domain>/.well-known/openid-configuration``."""

    domain: str
    application_id: str
    algorithms: tuple[str, ...] = OIDC_ALGORITHMS

    def __post_init__(self) -> None:
        _check_text("OidcProvider domain", self.domain)
        _check_text("OidcProvider application_id", self.application_id)
        object.__setattr__(self, "algorithms", _check_algorithms(self.algorithms))

    @property
    def issuer(self) -> str:
        return normalize_issuer(self.domain)


@dataclass(frozen=True)
class CustomJwtProvider:
    """Any JWT issuer: keys at ``jwks`` (an http(s) URL, a ``data:`` URI, or the JWKS itself), one algorithm."""

    issuer: str
    jwks: str | Mapping[str, Any]
    algorithm: str = "RS256"
    application_id: str | None = None
    inline_keys: KeySet | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_text("CustomJwtProvider issuer", self.issuer)
        _check_algorithms([self.algorithm])
        if self.application_id is not None:
            _check_text("CustomJwtProvider application_id", self.application_id)
        if isinstance(self.jwks, str) and self.jwks.startswith(("http://", "https://")):
            return
        if isinstance(self.jwks, str) and self.jwks.startswith("data:"):
            keys = parse_key_set(decode_data_uri(self.jwks), "the jwks data: URI")
        elif isinstance(self.jwks, Mapping):
            keys = parse_key_set(self.jwks, "the inline jwks")
        else:
            raise ValueError("CustomJwtProvider jwks must be an http(s) URL, a data: URI or a JWKS dict")
        object.__setattr__(self, "inline_keys", keys)


@dataclass(frozen=True)
class BuiltinProvider:
    """This deployment's own issuer (its sign-in library): issuer = the server's public URL, audience "convex"."""

    application_id: str = BUILTIN_AUDIENCE


Provider = OidcProvider | CustomJwtProvider | BuiltinProvider


@dataclass(frozen=True)
class AuthConfig:
    """The providers an app trusts, tried in order: the first whose issuer (and audience) matches wins."""

    providers: tuple[Provider, ...] = ()

    def __post_init__(self) -> None:
        providers = tuple(self.providers)
        for provider in providers:
            if not isinstance(provider, (OidcProvider, CustomJwtProvider, BuiltinProvider)):
                raise TypeError(
                    f"not an auth provider: {provider!r} (use OidcProvider, CustomJwtProvider or BuiltinProvider)"
                )
        object.__setattr__(self, "providers", providers)
