"""Password hashing with scrypt: memory-hard, salted per password, self-describing.

A stored hash reads ``scrypt$<N>$<r>$<p>$<salt>$<key>`` (salt and key in unpadded base64url), so
the cost parameters can be raised later without invalidating existing passwords. Hashing takes
on the order of 100 ms by design; callers run it off the event loop (see ``sign_in``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from runtime import knobs

SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` with the configured cost."""
    n, r, p = knobs.AUTH_SCRYPT_N, knobs.AUTH_SCRYPT_R, knobs.AUTH_SCRYPT_P
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, n, r, p)
    return "$".join([SCHEME, str(n), str(r), str(p), _encode(salt), _encode(key)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a ``hash_password`` result); False for a malformed hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _decode(key)
        actual = _derive(password, _decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem must exceed scrypt's 128·N·r working set, which OpenSSL's 32 MiB default does not.
    maxmem = 128 * n * r * p + (1 << 20)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_BYTES)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
