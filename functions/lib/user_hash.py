"""Identity verification: HMAC-SHA256 of the customer's user id, keyed by the workspace secret.

The customer's server computes ``hex(HMAC_SHA256(secret, userId))`` and hands it to the widget as
``userHash``; we recompute it and compare in constant time. Comparison ignores the case of the
supplied hash. In "required" mode an invalid or missing hash for a supplied user id is refused;
in "optional" mode the visitor simply stays unverified.
"""

import hashlib
import hmac
import secrets
import string
from typing import Any

from .clock import now_ms
from .errors import NOT_AUTHORIZED, fail
from .identity import Doc

SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 64


def generate_secret() -> str:
    """A new workspace identity secret: 64 characters from ``[A-Za-z0-9]``."""
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def compute_user_hash(secret: str, user_id: str) -> str:
    """The lowercase hex HMAC-SHA256 of ``user_id`` under ``secret`` (both UTF-8)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_hash_matches(secret: str, user_id: str, provided: str) -> bool:
    """Whether ``provided`` is the hash of ``user_id`` (case-insensitive, constant time)."""
    return hmac.compare_digest(compute_user_hash(secret, user_id), provided.lower())


def verification_enabled(workspace: Doc) -> bool:
    """Whether the workspace checks user hashes at all."""
    return bool(workspace.get("identityVerificationEnabled"))


def verification_required(workspace: Doc) -> bool:
    """Whether a claimed user id without a valid hash is refused (rather than left unverified)."""
    return verification_enabled(workspace) and workspace.get("identityVerificationMode") == "required"


def hash_is_valid(workspace: Doc, user_id: str | None, user_hash: str | None) -> bool:
    """Whether the pair proves ``user_id`` for this workspace (False when verification is off)."""
    secret = workspace.get("identitySecret")
    if not (verification_enabled(workspace) and secret and user_id and user_hash):
        return False
    return user_hash_matches(secret, user_id, user_hash)


def may_claim(workspace: Doc, target: Doc, proven_user_id: str | None) -> bool:
    """Whether a caller may take over ``target``'s history on the strength of an email or id match.

    Only a caller who proved a user id (``proven_user_id``, a valid ``userHash``) may, and only a
    target verified as that same user. An email or external id anyone can type proves nothing,
    so without identity verification no such claim is ever accepted (a deliberate difference
    from Opencom, which merges on a bare email match).
    """
    if not verification_enabled(workspace) or proven_user_id is None:
        return False
    return bool(target.get("identityVerified")) and target.get("externalUserId") == proven_user_id


async def apply_identity_verification(
    ctx: Any, workspace: Doc, visitor_id: str, user_id: str | None, user_hash: str | None
) -> bool:
    """Verify a visitor's claimed user id, record the outcome on the visitor, enforce "required" mode.

    Returns whether the visitor is verified by this call.
    """
    if user_id and user_hash:
        if not verification_enabled(workspace):
            return False
        verified = hash_is_valid(workspace, user_id, user_hash)
        patch: dict[str, Any] = {"identityVerified": verified}
        if verified:
            patch["identityVerifiedAt"] = now_ms()
        await ctx.db.patch(visitor_id, patch)
        if not verified and verification_required(workspace):
            fail(NOT_AUTHORIZED, "Identity verification failed: invalid userHash")
        return verified
    if user_id and verification_required(workspace):
        fail(NOT_AUTHORIZED, "Identity verification failed: userHash is required")
    return False
