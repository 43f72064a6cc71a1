"""Signing keys and hand-made JWTs for the auth tests: valid ones, and every kind of forgery.

``SigningKey`` wraps a fresh key pair (RSA, EC P-256 or Ed25519) with its public JWK; ``claims``
builds a fresh, valid claim set; ``forged_hs256`` and ``unsigned`` build the tokens no library
will build for you (an HMAC signed with the public key, ``alg: none``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.test"
AUDIENCE = "app"


class SigningKey:
    """A key pair for ``algorithm`` (RS256, ES256, EdDSA) with id ``kid``."""

    def __init__(self, kid: str, algorithm: str = "RS256") -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif algorithm == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            public = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**public, "kid": kid, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, payload: dict[str, Any], *, kid: str | None = None, omit_kid: bool = False) -> str:
        """``payload`` signed with this key; the header names ``kid`` (default: this key's) unless ``omit_kid``."""
        header = {"typ": "JWT"} if omit_kid else {"kid": self.kid if kid is None else kid, "typ": "JWT"}
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers=header)


def jwks(*keys: SigningKey) -> dict[str, Any]:
    """The JWKS document publishing ``keys``."""
    return {"keys": [key.jwk for key in keys]}


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid claim set (issuer ``ISSUER``, audience ``AUDIENCE``, one hour left); ``None`` drops a claim."""
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    merged = {**base, **overrides}
    return {name: value for name, value in merged.items() if value is not None}


def _segment(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged_hs256(payload: dict[str, Any], key: SigningKey) -> str:
    """An HS256 token whose HMAC secret is the *public* key: the RS/HS algorithm-confusion attack."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_segment(payload)}"
    signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def unsigned(payload: dict[str, Any], kid: str) -> str:
    """An ``alg: none`` token with an empty signature."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(payload)}."
