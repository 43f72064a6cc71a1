"""Password hashes: scrypt with the configured (memory-hard) cost, a salt of their own, and
verification that never accepts a wrong password or a damaged hash."""

from __future__ import annotations

from runtime import knobs
from runtime.auth.passwords import hash_password, verify_password


def test_a_hash_names_its_scheme_and_cost_and_hides_the_password() -> None:
    stored = hash_password("correct horse battery staple")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", knobs.AUTH_SCRYPT_N, knobs.AUTH_SCRYPT_R, knobs.AUTH_SCRYPT_P)
    assert 128 * int(n) * int(r) >= 16 << 20  # memory-hard: at least 16 MiB per guess
    assert salt and key and "correct" not in stored


def test_only_the_right_password_verifies() -> None:
    stored = hash_password("pässwörd ✓")
    assert verify_password("pässwörd ✓", stored)
    assert not verify_password("passwörd ✓", stored)
    assert not verify_password("", stored)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password") != hash_password("same password")


def test_a_damaged_or_foreign_hash_never_verifies() -> None:
    stored = hash_password("password")
    assert not verify_password("password", stored[:-4])
    assert not verify_password("password", "bcrypt$" + stored.partition("$")[2])
    assert not verify_password("password", "password")
    assert not verify_password("password", "")
