"""The identity a function sees in ``ctx.auth.get_user_identity()``, built the way Convex builds it.

Always ``tokenIdentifier`` (``"<issuer>|<subject>"``), ``subject`` and ``issuer``; the standard
OIDC claims under Convex's camelCase names; every other claim as a custom field (flattened into
dotted keys for custom-JWT providers). Registered claims are carried by the fields above or are
bookkeeping (``jti``, ``nbf``, ``fva``), so they are not repeated. Numbers become floats, as a
JSON number is a JavaScript number in Convex.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from runtime.tokens.errors import AuthError
from runtime.values.errors import ConvexValueError
from runtime.values.values import check_value

Identity = dict[str, Any]

STANDARD_CLAIMS = {
    "name": "name",
    "given_name": "givenName",
    "family_name": "familyName",
    "nickname": "nickname",
    "preferred_username": "preferredUsername",
    "profile": "profileUrl",
    "picture": "pictureUrl",
    "website": "websiteUrl",
    "email": "email",
    "email_verified": "emailVerified",
    "gender": "gender",
    "birthdate": "birthday",
    "zoneinfo": "timezone",
    "locale": "language",
    "phone_number": "phoneNumber",
    "phone_number_verified": "phoneNumberVerified",
    "address": "address",
    "updated_at": "updatedAt",
}
NOT_CUSTOM = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "fva"})


def identity_from_claims(claims: Mapping[str, Any], *, flatten: bool) -> Identity:
    """The identity of a verified token's claims (``iss`` and ``sub`` are strings by then)."""
    issuer, subject = claims["iss"], claims["sub"]
    identity: Identity = {"tokenIdentifier": f"{issuer}|{subject}", "subject": subject, "issuer": issuer}
    for claim, value in claims.items():
        if claim in NOT_CUSTOM or value is None:
            continue
        if claim in STANDARD_CLAIMS:
            identity[STANDARD_CLAIMS[claim]] = _standard_value(claim, value)
        elif flatten and isinstance(value, Mapping):
            identity.update(_flattened(claim, value))
        else:
            _put_custom(identity, claim, value)
    return identity


def identity_from_attributes(attributes: Any) -> Identity:
    """The identity an admin acts as (Convex's ``UserIdentityAttributes``: camelCase, like an identity).

    ``subject`` and ``issuer`` are required; ``tokenIdentifier`` defaults to ``"<issuer>|<subject>"``.
    Raises ``AuthError`` for anything else.
    """
    if not isinstance(attributes, Mapping):
        raise AuthError("The identity to act as must be an object")
    subject, issuer = attributes.get("subject"), attributes.get("issuer")
    if not isinstance(subject, str) or not isinstance(issuer, str):
        raise AuthError("The identity to act as needs string `subject` and `issuer` fields")
    identity: Identity = {key: _convex_json(value) for key, value in attributes.items() if value is not None}
    identity.setdefault("tokenIdentifier", f"{issuer}|{subject}")
    if not isinstance(identity["tokenIdentifier"], str):
        raise AuthError("The identity to act as has a `tokenIdentifier` that is not a string")
    try:
        check_value(identity)
    except ConvexValueError as error:
        raise AuthError(f"The identity to act as is not a Convex object: {error}") from None
    return identity


def _standard_value(claim: str, value: Any) -> Any:
    if claim == "address" and isinstance(value, Mapping):
        return value.get("formatted")
    if claim == "updated_at" and isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        return moment.isoformat().replace("+00:00", "Z")
    return _convex_json(value)


def _flattened(prefix: str, value: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}.{key}"
        if isinstance(inner, Mapping):
            flat.update(_flattened(name, inner))
        else:
            _put_custom(flat, name, inner)
    return flat


def _put_custom(target: dict[str, Any], name: str, value: Any) -> None:
    # A claim that is no Convex value (a "$"-prefixed key, say) cannot reach a function; drop it.
    converted = _convex_json(value)
    try:
        check_value({name: converted})
    except ConvexValueError:
        return
    target[name] = converted


def _convex_json(value: Any) -> Any:
    """Plain JSON as Convex reads it: every number is a float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _convex_json(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convex_json(inner) for inner in value]
    return value
