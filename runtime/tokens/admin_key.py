"""The deployment's admin key: the secret that lets operators run internal functions, act as any
user and use operator endpoints (``Authorization: Convex <admin key>``), as in Convex.

It lives in the data directory as ``admin_key`` (mode 0600), created once on first use, so the
server and the CLI on the same data directory agree on it without any configuration.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.tokens.errors import AuthError
from runtime.tokens.identity import identity_from_attributes
from runtime.tokens.secret_files import read_or_create_secret

if TYPE_CHECKING:
    from runtime.tokens.identity import Identity

ADMIN_KEY_FILE = "admin_key"
_KEY_BYTES = 32


def admin_key_path(data_dir: Path) -> Path:
    """Where the admin key of ``data_dir`` is kept."""
    return data_dir / ADMIN_KEY_FILE


def read_admin_key(data_dir: Path) -> str | None:
    """The admin key of ``data_dir``, or None if none was created yet."""
    try:
        return admin_key_path(data_dir).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_admin_key(data_dir: Path) -> str:
    """The admin key of ``data_dir``, created (random, 0600) if it does not exist yet."""
    return read_or_create_secret(admin_key_path(data_dir), lambda: secrets.token_hex(_KEY_BYTES).encode()).decode().strip()


def admin_keys_equal(expected: str, candidate: object) -> bool:
    """Whether ``candidate`` is ``expected``, compared in constant time (no timing oracle on the key)."""
    if not isinstance(candidate, str):
        return False
    return hmac.compare_digest(expected.encode(), candidate.encode())


def split_admin_credential(credential: str) -> tuple[str, Identity | None]:
    """``key`` or ``key:<base64 JSON identity>`` → (key, identity to act as).

    The second form is what the npm ``ConvexHttpClient.setAdminAuth(key, actingAs)`` sends after
    ``Authorization: Convex``. Raises ``AuthError`` when the identity part does not decode.
    """
    key, colon, encoded = credential.partition(":")
    if not colon:
        return credential, None
    try:
        attributes = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise AuthError(f"The identity after the admin key is not base64 JSON: {error}") from None
    return key, identity_from_attributes(attributes)
