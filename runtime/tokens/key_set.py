"""JSON Web Key Sets: parsing them, and turning one key into a verifier for one algorithm.

Keys are chosen by the token's ``kid`` and checked against the algorithm the *provider* allows,
never one the token asks for: a key whose type does not fit that algorithm (an RSA key offered
for HMAC, say) is refused here, which is what closes the classic algorithm-confusion attacks.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

import jwt
from jwt.exceptions import InvalidKeyError, PyJWKError

KeySet = dict[str, dict[str, Any]]
"""Public JWKs by ``kid``."""

# The asymmetric algorithms a provider may be configured with, and the key type each needs.
ALGORITHM_KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class KeySetError(ValueError):
    """A JWKS document, data URI or key that cannot be used."""


def parse_key_set(document: Any, origin: str) -> KeySet:
    """The signing keys of a JWKS document (``{"keys": [...]}``) by ``kid``.

    Keys without a ``kid``, keys meant for encryption and keys carrying private material are
    left out: tokens must name their key, and a published private key is a configuration error.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise KeySetError(f"{origin} is not JSON: {error}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError(f'{origin} is not a JWKS document (an object with a "keys" list)')
    keys: KeySet = {}
    for key in document["keys"]:
        if not isinstance(key, Mapping) or not isinstance(key.get("kid"), str):
            continue
        if key.get("use", "sig") != "sig" or any(member in key for member in _PRIVATE_MEMBERS):
            continue
        keys[key["kid"]] = dict(key)
    return keys


def decode_data_uri(uri: str) -> str:
    """The text of a ``data:`` URI (``data:application/json;base64,...`` or percent-encoded)."""
    header, comma, payload = uri.partition(",")
    if not header.startswith("data:") or not comma:
        raise KeySetError("a data: URI must look like data:[<type>][;base64],<data>")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as error:
            raise KeySetError(f"the data: URI is not valid base64 UTF-8: {error}") from None
    return urllib.parse.unquote(payload)


def verifier_key(jwk: Mapping[str, Any], algorithm: str) -> jwt.PyJWK:
    """A key that verifies ``algorithm`` signatures, or ``KeySetError`` if ``jwk`` is not such a key."""
    key_type, curve = ALGORITHM_KEY_TYPES[algorithm]
    if jwk.get("kty") != key_type or (curve is not None and jwk.get("crv") != curve):
        raise KeySetError(f"key {jwk.get('kid')!r} is not a {algorithm} key")
    if jwk.get("alg", algorithm) != algorithm:
        raise KeySetError(f"key {jwk.get('kid')!r} is published for {jwk.get('alg')}, not {algorithm}")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=algorithm)
    except (PyJWKError, InvalidKeyError, ValueError, TypeError) as error:
        raise KeySetError(f"key {jwk.get('kid')!r} is unusable: {error}") from None
