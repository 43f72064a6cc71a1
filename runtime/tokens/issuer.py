"""The deployment as its own OpenID Connect issuer: the key its sign-in library signs tokens with.

One RS256 key pair is generated the first time it is needed and kept (mode 0600) in the data
directory, so tokens stay valid across restarts. The issuer URL is the server's public URL
(``CONVEX_SITE_URL`` in Convex, ``executor.site_url`` here), and other services discover the public key
at ``<url>/.well-known/openid-configuration`` → ``<url>/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from runtime import knobs
from runtime.tokens.config import BUILTIN_AUDIENCE
from runtime.tokens.secret_files import read_or_create_secret

KEY_FILE = "auth_issuer_key.pem"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
_KEY_BITS = 2048  # RS256 keys of this size are what OIDC providers (and Convex Auth) use


class BuiltinIssuer:
    """Signs this deployment's access tokens and publishes the public key that verifies them."""

    def __init__(self, data_dir: Path, site_url: Callable[[], str]) -> None:
        self._path = data_dir / KEY_FILE
        self._site_url = site_url
        self._private_key: rsa.RSAPrivateKey | None = None
        self._public_jwk: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        """The issuer (``iss``) of tokens signed now: the server's current public URL, no trailing ``/``.

        Read on every use because the server learns its URL only when it binds its port.
        """
        return self._site_url().rstrip("/")

    @property
    def kid(self) -> str:
        """The key id: the RFC 7638 thumbprint of the public key, stable for the key's lifetime."""
        return str(self.public_jwk()["kid"])

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (``kty``, ``n``, ``e``, ``kid``, ``alg``, ``use``)."""
        if self._public_jwk is None:
            members = RSAAlgorithm.to_jwk(self._key().public_key(), as_dict=True)
            required = {name: members[name] for name in ("e", "kty", "n")}
            digest = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
            kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            self._public_jwk = {**required, "kid": kid, "alg": "RS256", "use": "sig"}
        return dict(self._public_jwk)

    def jwks(self) -> dict[str, Any]:
        """The document served at ``/.well-known/jwks.json``."""
        return {"keys": [self.public_jwk()]}

    def openid_configuration(self) -> dict[str, Any]:
        """The discovery document served at ``/.well-known/openid-configuration``.

        Only what verifiers use: there is no authorization endpoint, because tokens come from the
        app's sign-in functions, not from an OAuth flow.
        """
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}{JWKS_PATH}",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def issue_token(self, subject: str, *, lifetime_s: int | None = None) -> str:
        """A signed access JWT for ``subject``: ``iss`` this URL, ``aud`` "convex", ``iat`` now, ``exp``."""
        now = int(time.time())
        lifetime = knobs.AUTH_TOKEN_LIFETIME_S if lifetime_s is None else lifetime_s
        claims = {"sub": subject, "iss": self.url, "aud": BUILTIN_AUDIENCE, "iat": now, "exp": now + lifetime}
        return jwt.encode(claims, self._key(), algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def _key(self) -> rsa.RSAPrivateKey:
        if self._private_key is None:
            pem = read_or_create_secret(self._path, _new_private_key_pem)
            key = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{self._path} does not hold an RSA private key")
            self._private_key = key
        return self._private_key


def _new_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
