"""The deployment as its own OIDC issuer: a key kept across restarts, tokens shaped like Convex
Auth's, and discovery documents that let any standard OIDC verifier check them."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime import knobs
from runtime.auth import OidcProvider
from runtime.tokens.issuer import KEY_FILE, BuiltinIssuer
from runtime.tokens.jwks import JwksCache
from runtime.tokens.verifier import TokenVerifier
from runtime.tokens.well_known import well_known_routes


def test_the_key_is_created_on_first_use_private_and_kept(tmp_path: Path) -> None:
    issuer = BuiltinIssuer(tmp_path, lambda: "http://127.0.0.1:3211")
    assert not (tmp_path / KEY_FILE).exists()
    token = issuer.issue_token("user|session")
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    reopened = BuiltinIssuer(tmp_path, lambda: "http://127.0.0.1:3211")
    assert reopened.kid == issuer.kid
    public = jwt.PyJWK(reopened.public_jwk(), "RS256")
    assert jwt.decode(token, public, algorithms=["RS256"], audience="convex")["sub"] == "user|session"


def test_tokens_carry_convex_auth_claims(tmp_path: Path) -> None:
    issuer = BuiltinIssuer(tmp_path, lambda: "http://127.0.0.1:3211/")
    token = issuer.issue_token("user|session")
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "RS256", "kid": issuer.kid, "typ": "JWT"}
    assert payload["iss"] == "http://127.0.0.1:3211"
    assert payload["aud"] == "convex"
    assert payload["sub"] == "user|session"
    assert payload["exp"] - payload["iat"] == knobs.AUTH_TOKEN_LIFETIME_S


def test_the_issuer_url_follows_the_site_url(tmp_path: Path) -> None:
    site = {"url": "http://127.0.0.1:3211"}
    issuer = BuiltinIssuer(tmp_path, lambda: site["url"])
    site["url"] = "https://chat.example.com"
    assert jwt.decode(issuer.issue_token("u|s"), options={"verify_signature": False})["iss"] == site["url"]
    assert issuer.openid_configuration()["jwks_uri"] == "https://chat.example.com/.well-known/jwks.json"


@pytest.fixture
async def served_issuer(tmp_path: Path) -> AsyncIterator[BuiltinIssuer]:
    """A built-in issuer whose well-known routes are served on 127.0.0.1, its URL being that server's."""
    site = {"url": ""}
    issuer = BuiltinIssuer(tmp_path, lambda: site["url"])
    application = web.Application()
    application.add_routes(well_known_routes(issuer))
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    site["url"] = f"http://127.0.0.1:{server.port}"
    yield issuer
    await server.close()


async def test_a_standard_oidc_verifier_accepts_builtin_tokens(tmp_path: Path, served_issuer: BuiltinIssuer) -> None:
    cache = JwksCache()
    verifier = TokenVerifier(
        [OidcProvider(domain=served_issuer.url, application_id="convex")],
        issuer=BuiltinIssuer(tmp_path / "unrelated", lambda: "http://127.0.0.1:1"),
        jwks=cache,
    )
    try:
        identity = (await verifier.verify(served_issuer.issue_token("user|session"))).identity
    finally:
        await cache.close()
    assert identity["tokenIdentifier"] == f"{served_issuer.url}|user|session"


async def test_the_well_known_documents_are_public_json(served_issuer: BuiltinIssuer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{served_issuer.url}/.well-known/openid-configuration") as response:
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert (await response.json())["issuer"] == served_issuer.url
        async with session.get(f"{served_issuer.url}/.well-known/jwks.json") as response:
            assert await response.json() == {"keys": [served_issuer.public_jwk()]}
            assert "d" not in served_issuer.public_jwk()
