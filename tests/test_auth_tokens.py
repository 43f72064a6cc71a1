"""Verifying user tokens: every forgery and mistake is refused with a clear message, and a valid
token yields exactly Convex's identity (convex-semantics §6.7)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime import knobs
from runtime.auth import AuthConfig, AuthError, BuiltinProvider, CustomJwtProvider, OidcProvider
from runtime.tokens.issuer import BuiltinIssuer
from runtime.tokens.jwks import JwksCache
from runtime.tokens.verifier import OIDC_FAILURE, TokenVerifier
from tests.jwt_keys import AUDIENCE, ISSUER, SigningKey, claims, forged_hs256, jwks, unsigned

SITE_URL = "http://127.0.0.1:3211"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("k1")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey("k1")  # same kid, different key pair


@pytest.fixture
def builtin(tmp_path: Path) -> BuiltinIssuer:
    return BuiltinIssuer(tmp_path, lambda: SITE_URL)


@pytest.fixture
async def verifier_for(builtin: BuiltinIssuer) -> AsyncIterator[Callable[..., TokenVerifier]]:
    """``verifier_for(*providers)``: a verifier trusting exactly those providers."""
    caches: list[JwksCache] = []

    def make(*providers: Any) -> TokenVerifier:
        caches.append(JwksCache())
        return TokenVerifier(AuthConfig(providers=list(providers)).providers, issuer=builtin, jwks=caches[-1])

    yield make
    for cache in caches:
        await cache.close()


@pytest.fixture
def verifier(verifier_for: Callable[..., TokenVerifier], key: SigningKey) -> TokenVerifier:
    """Trusts ``ISSUER`` (audience ``AUDIENCE``, RS256, inline JWKS holding ``key``)."""
    return verifier_for(CustomJwtProvider(issuer=ISSUER, jwks=jwks(key), application_id=AUDIENCE))


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims(sub="admin")).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def now() -> int:
    """The time in seconds, read when a token is made: a module-level constant goes stale in a slow run."""
    return int(time.time())


REJECTIONS: dict[str, tuple[Callable[[SigningKey, SigningKey], str], str]] = {
    "alg none": (lambda key, other: unsigned(claims(), "k1"), "'alg' header is 'none'"),
    "HS256 signed with the public key": (lambda key, other: forged_hs256(claims(), key), "'alg' header is 'HS256'"),
    "signed by another key": (lambda key, other: other.sign(claims()), "signature does not match"),
    "payload changed after signing": (lambda key, other: _tampered(key.sign(claims())), "signature does not match"),
    "expired": (lambda key, other: key.sign(claims(iat=now() - 7200, exp=now() - 3600)), "the token has expired"),
    "expired beyond the leeway": (lambda key, other: key.sign(claims(exp=now() - 120)), "the token has expired"),
    "issued in the future": (lambda key, other: key.sign(claims(iat=now() + 600)), "not yet valid (iat)"),
    "not valid before a future time": (lambda key, other: key.sign(claims(nbf=now() + 600)), "not yet valid (nbf)"),
    "wrong issuer": (lambda key, other: key.sign(claims(iss="https://evil.test")), "No auth provider found"),
    "wrong audience": (lambda key, other: key.sign(claims(aud="someone-else")), "No auth provider found"),
    "no audience": (lambda key, other: key.sign(claims(aud=None)), "No auth provider found"),
    "no issuer": (lambda key, other: key.sign(claims(iss=None)), "Missing issuer claim ('iss')"),
    "unknown kid": (lambda key, other: key.sign(claims(), kid="k9"), "The JWT's 'kid' (key ID) header is 'k9'"),
    "no kid": (lambda key, other: key.sign(claims(), omit_kid=True), "no 'kid' (key ID) header"),
    "no exp": (lambda key, other: key.sign(claims(exp=None)), "Missing expiry"),
    "no sub": (lambda key, other: key.sign(claims(sub=None)), "Missing subject"),
    "empty sub": (lambda key, other: key.sign(claims(sub="")), "Missing subject"),
    "no iat": (lambda key, other: key.sign(claims(iat=None)), "missing 'iat' claim"),
    "not a JWT": (lambda key, other: "not-a-jwt", "Could not decode token"),
    "three garbage segments": (lambda key, other: "a.b.c", "Could not decode token"),
    "empty": (lambda key, other: "", "Could not decode token"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_bad_tokens_are_refused_with_a_clear_message(
    case: str, verifier: TokenVerifier, key: SigningKey, other_key: SigningKey
) -> None:
    make, message = REJECTIONS[case]
    with pytest.raises(AuthError) as refused:
        await verifier.verify(make(key, other_key))
    assert message in refused.value.message
    expected_code = "NoAuthProvider" if message == "No auth provider found" else "InvalidAuthHeader"
    assert refused.value.code == expected_code


async def test_a_valid_token_yields_convex_identity_fields(verifier: TokenVerifier, key: SigningKey) -> None:
    payload = claims(
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.com",
        email_verified=True,
        picture="https://example.com/ada.png",
        locale="en-GB",
        address={"formatted": "12 St James's Square"},
        updated_at=0,
        jti="unique",
        nbf=now() - 10,
        plan="pro",
        seats=5,
        properties={"team": {"name": "analytics"}, "level": 3},
    )
    verified = await verifier.verify(key.sign(payload))
    assert verified.identity == {
        "tokenIdentifier": f"{ISSUER}|user-1",
        "subject": "user-1",
        "issuer": ISSUER,
        "givenName": "Ada",
        "familyName": "Lovelace",
        "email": "ada@example.com",
        "emailVerified": True,
        "pictureUrl": "https://example.com/ada.png",
        "language": "en-GB",
        "address": "12 St James's Square",
        "updatedAt": "1970-01-01T00:00:00Z",
        "plan": "pro",
        "seats": 5.0,
        "properties.team.name": "analytics",
        "properties.level": 3.0,
    }
    assert verified.expires_at == payload["exp"]


async def test_an_expiry_within_the_leeway_is_accepted(verifier: TokenVerifier, key: SigningKey) -> None:
    assert knobs.AUTH_LEEWAY_S <= 60
    token = key.sign(claims(iat=now() - 3600, exp=int(time.time()) - 1))
    assert (await verifier.verify(token)).identity["subject"] == "user-1"


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
async def test_other_configured_algorithms_verify_and_are_not_interchangeable(
    algorithm: str, verifier_for: Callable[..., TokenVerifier], key: SigningKey
) -> None:
    other = SigningKey("k2", algorithm)
    verifier = verifier_for(
        CustomJwtProvider(issuer=ISSUER, jwks=jwks(key, other), algorithm=algorithm, application_id=AUDIENCE)
    )
    assert (await verifier.verify(other.sign(claims()))).identity["subject"] == "user-1"
    with pytest.raises(AuthError, match=f"only accepts {algorithm}"):
        await verifier.verify(key.sign(claims()))


async def test_a_key_of_the_wrong_type_for_the_algorithm_is_refused(
    verifier_for: Callable[..., TokenVerifier],
) -> None:
    rsa_key = SigningKey("k1")
    verifier = verifier_for(CustomJwtProvider(issuer=ISSUER, jwks=jwks(rsa_key), algorithm="ES256"))
    impostor = SigningKey("k1", "ES256")  # names the RSA key's kid, signs with EC
    with pytest.raises(AuthError, match="is not a ES256 key"):
        await verifier.verify(impostor.sign(claims()))


async def test_issuers_match_without_scheme_or_trailing_slash(
    verifier_for: Callable[..., TokenVerifier], key: SigningKey
) -> None:
    verifier = verifier_for(CustomJwtProvider(issuer="issuer.test/", jwks=jwks(key)))
    assert (await verifier.verify(key.sign(claims()))).identity["issuer"] == ISSUER


async def test_the_first_provider_matching_issuer_and_audience_wins(
    verifier_for: Callable[..., TokenVerifier], key: SigningKey
) -> None:
    elsewhere = SigningKey("k1")
    verifier = verifier_for(
        CustomJwtProvider(issuer=ISSUER, jwks=jwks(elsewhere), application_id="mobile"),
        CustomJwtProvider(issuer=ISSUER, jwks=jwks(key), application_id=AUDIENCE),
    )
    verified = await verifier.verify(key.sign(claims(aud=["web", AUDIENCE])))
    assert verified.identity["subject"] == "user-1"


async def test_a_data_uri_jwks_is_accepted(verifier_for: Callable[..., TokenVerifier], key: SigningKey) -> None:
    encoded = base64.b64encode(json.dumps(jwks(key)).encode()).decode()
    verifier = verifier_for(CustomJwtProvider(issuer=ISSUER, jwks=f"data:text/plain;charset=utf-8;base64,{encoded}"))
    assert (await verifier.verify(key.sign(claims()))).identity["subject"] == "user-1"


async def test_no_providers_means_no_token_is_accepted(
    verifier_for: Callable[..., TokenVerifier], key: SigningKey
) -> None:
    with pytest.raises(AuthError, match="No auth provider found matching the given token"):
        await verifier_for().verify(key.sign(claims()))


def test_provider_configuration_mistakes_fail_at_load() -> None:
    with pytest.raises(ValueError, match="not supported"):
        CustomJwtProvider(issuer=ISSUER, jwks={"keys": []}, algorithm="HS256")
    with pytest.raises(ValueError, match="http"):
        CustomJwtProvider(issuer=ISSUER, jwks="ftp://keys.test/jwks")
    with pytest.raises(ValueError, match="JWKS document"):
        CustomJwtProvider(issuer=ISSUER, jwks={"not": "keys"})
    with pytest.raises(TypeError, match="not an auth provider"):
        AuthConfig(providers=["https://issuer.test"])  # type: ignore[list-item]


# --- the built-in issuer ----------------------------------------------------------------------
async def test_builtin_tokens_verify_while_the_site_url_is_unchanged(
    verifier_for: Callable[..., TokenVerifier], builtin: BuiltinIssuer
) -> None:
    verifier = verifier_for(BuiltinProvider())
    verified = await verifier.verify(builtin.issue_token("user|session"))
    assert verified.identity == {
        "tokenIdentifier": f"{SITE_URL}|user|session",
        "subject": "user|session",
        "issuer": SITE_URL,
    }


async def test_builtin_tokens_of_another_issuer_url_are_refused(
    tmp_path: Path, verifier_for: Callable[..., TokenVerifier], builtin: BuiltinIssuer
) -> None:
    stranger = BuiltinIssuer(tmp_path / "elsewhere", lambda: "https://other.example")
    with pytest.raises(AuthError, match="No auth provider found"):
        await verifier_for(BuiltinProvider()).verify(stranger.issue_token("user|session"))
    same_url_other_key = BuiltinIssuer(tmp_path / "impostor", lambda: SITE_URL)
    with pytest.raises(AuthError, match="'kid'"):
        await verifier_for(BuiltinProvider()).verify(same_url_other_key.issue_token("user|session"))


# --- OIDC providers, discovered over HTTP -----------------------------------------------------
@pytest.fixture
async def oidc_issuer(key: SigningKey) -> AsyncIterator[str]:
    """An OIDC issuer on 127.0.0.1 publishing ``key``; yields its URL."""
    application = web.Application()
    server = TestServer(application, host="127.0.0.1")

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response({"issuer": url, "jwks_uri": f"{url}/keys"})

    async def keys(request: web.Request) -> web.Response:
        return web.json_response(jwks(key))

    application.router.add_get("/.well-known/openid-configuration", discovery)
    application.router.add_get("/keys", keys)
    await server.start_server()
    url = f"http://127.0.0.1:{server.port}"
    yield url
    await server.close()


async def test_oidc_tokens_verify_through_discovery_without_flattening(
    verifier_for: Callable[..., TokenVerifier], key: SigningKey, oidc_issuer: str
) -> None:
    verifier = verifier_for(OidcProvider(domain=oidc_issuer, application_id=AUDIENCE))
    token = key.sign(claims(iss=oidc_issuer, org={"id": "o1"}, nickname="ada"))
    identity = (await verifier.verify(token)).identity
    assert identity == {
        "tokenIdentifier": f"{oidc_issuer}|user-1",
        "subject": "user-1",
        "issuer": oidc_issuer,
        "nickname": "ada",
        "org": {"id": "o1"},
    }


async def test_oidc_failures_carry_convex_message_and_the_reason(
    verifier_for: Callable[..., TokenVerifier], key: SigningKey, oidc_issuer: str
) -> None:
    verifier = verifier_for(OidcProvider(domain=oidc_issuer, application_id=AUDIENCE))
    with pytest.raises(AuthError) as expired:
        await verifier.verify(key.sign(claims(iss=oidc_issuer, exp=now() - 3600)))
    assert expired.value.message.startswith(OIDC_FAILURE)
    assert "expired" in expired.value.message
    with pytest.raises(AuthError, match="several audiences"):
        await verifier.verify(key.sign(claims(iss=oidc_issuer, aud=[AUDIENCE, "other"])))
    with pytest.raises(AuthError, match="'alg' header is 'HS256'"):
        await verifier.verify(forged_hs256(claims(iss=oidc_issuer), key))
