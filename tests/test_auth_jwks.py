"""Remote keys: fetched once, trusted for a while, refetched when an issuer rotates its key — but
never fetched more often than the rate limit allows, whatever ``kid``s callers make up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime import knobs
from runtime.auth import AuthError, CustomJwtProvider, OidcProvider
from runtime.tokens.issuer import BuiltinIssuer
from runtime.tokens.jwks import JwksCache
from runtime.tokens.verifier import TokenVerifier
from tests.jwt_keys import SigningKey, claims, jwks


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class KeyServer:
    """An issuer on 127.0.0.1 whose published keys, status and discovery answer the test controls."""

    url: str = ""
    published: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    discovery_issuer: str | None = None  # None: its own URL
    jwks_hits: int = 0


@pytest.fixture
async def key_server() -> AsyncIterator[KeyServer]:
    state = KeyServer()
    application = web.Application()

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response({"issuer": state.discovery_issuer or state.url, "jwks_uri": f"{state.url}/jwks"})

    async def keys(request: web.Request) -> web.Response:
        state.jwks_hits += 1
        if state.status != 200:
            return web.Response(status=state.status, text="unavailable")
        return web.json_response(state.published)

    application.router.add_get("/.well-known/openid-configuration", discovery)
    application.router.add_get("/jwks", keys)
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    state.url = f"http://127.0.0.1:{server.port}"
    yield state
    await server.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(clock: Clock) -> AsyncIterator[JwksCache]:
    cache = JwksCache(clock=clock)
    yield cache
    await cache.close()


def _verifier(tmp_path: Path, cache: JwksCache, provider: Any) -> TokenVerifier:
    return TokenVerifier([provider], issuer=BuiltinIssuer(tmp_path, lambda: "http://127.0.0.1:1"), jwks=cache)


@pytest.fixture
def verifier(tmp_path: Path, cache: JwksCache, key_server: KeyServer) -> TokenVerifier:
    provider = CustomJwtProvider(issuer=key_server.url, jwks=f"{key_server.url}/jwks")
    return _verifier(tmp_path, cache, provider)


async def test_keys_are_fetched_once_and_reused(verifier: TokenVerifier, key_server: KeyServer) -> None:
    old = SigningKey("old")
    key_server.published = jwks(old)
    for _ in range(3):
        await verifier.verify(old.sign(claims(iss=key_server.url)))
    assert key_server.jwks_hits == 1


async def test_a_rotated_key_is_picked_up_by_refetching_on_an_unknown_kid(
    verifier: TokenVerifier, key_server: KeyServer, clock: Clock
) -> None:
    old, new = SigningKey("old"), SigningKey("new")
    key_server.published = jwks(old)
    await verifier.verify(old.sign(claims(iss=key_server.url)))
    key_server.published = jwks(old, new)
    clock.now += knobs.AUTH_JWKS_MIN_REFETCH_S
    identity = (await verifier.verify(new.sign(claims(iss=key_server.url)))).identity
    assert identity["subject"] == "user-1"
    assert key_server.jwks_hits == 2


async def test_unknown_kids_cannot_make_the_server_hammer_the_issuer(
    verifier: TokenVerifier, key_server: KeyServer, clock: Clock
) -> None:
    known = SigningKey("known")
    key_server.published = jwks(known)
    await verifier.verify(known.sign(claims(iss=key_server.url)))
    for attempt in range(5):
        with pytest.raises(AuthError, match=f"'kid' \\(key ID\\) header is 'made-up-{attempt}'"):
            await verifier.verify(known.sign(claims(iss=key_server.url), kid=f"made-up-{attempt}"))
    assert key_server.jwks_hits == 1
    clock.now += knobs.AUTH_JWKS_MIN_REFETCH_S
    with pytest.raises(AuthError, match="made-up-again"):
        await verifier.verify(known.sign(claims(iss=key_server.url), kid="made-up-again"))
    assert key_server.jwks_hits == 2


async def test_keys_are_refetched_after_their_ttl_and_a_removed_key_stops_working(
    verifier: TokenVerifier, key_server: KeyServer, clock: Clock
) -> None:
    retired, current = SigningKey("retired"), SigningKey("current")
    key_server.published = jwks(retired, current)
    await verifier.verify(retired.sign(claims(iss=key_server.url)))
    key_server.published = jwks(current)
    clock.now += knobs.AUTH_JWKS_TTL_S
    with pytest.raises(AuthError, match="'retired'"):
        await verifier.verify(retired.sign(claims(iss=key_server.url)))
    assert key_server.jwks_hits == 2


async def test_known_keys_keep_working_while_the_issuer_is_down(
    verifier: TokenVerifier, key_server: KeyServer, clock: Clock
) -> None:
    key = SigningKey("k")
    key_server.published = jwks(key)
    await verifier.verify(key.sign(claims(iss=key_server.url)))
    key_server.status = 503
    clock.now += knobs.AUTH_JWKS_TTL_S
    assert (await verifier.verify(key.sign(claims(iss=key_server.url)))).identity["subject"] == "user-1"
    with pytest.raises(AuthError, match="Could not fetch the provider's keys: .*HTTP 503"):
        await verifier.verify(key.sign(claims(iss=key_server.url), kid="unseen"))


async def test_an_unreachable_issuer_is_a_clear_refusal(verifier: TokenVerifier, key_server: KeyServer) -> None:
    key_server.status = 500
    with pytest.raises(AuthError, match="Could not fetch the provider's keys: GET .*/jwks answered HTTP 500"):
        await verifier.verify(SigningKey("k").sign(claims(iss=key_server.url)))


async def test_concurrent_verifications_share_one_fetch(verifier: TokenVerifier, key_server: KeyServer) -> None:
    key = SigningKey("k")
    key_server.published = jwks(key)
    results = await asyncio.gather(*(verifier.verify(key.sign(claims(iss=key_server.url))) for _ in range(10)))
    assert {result.identity["subject"] for result in results} == {"user-1"}
    assert key_server.jwks_hits == 1


async def test_oidc_discovery_must_name_the_same_issuer(
    tmp_path: Path, cache: JwksCache, key_server: KeyServer
) -> None:
    key = SigningKey("k")
    key_server.published = jwks(key)
    verifier = _verifier(tmp_path, cache, OidcProvider(domain=key_server.url, application_id="app"))
    assert (await verifier.verify(key.sign(claims(iss=key_server.url)))).identity["issuer"] == key_server.url
    key_server.discovery_issuer = "https://someone-else.test"
    fresh = _verifier(tmp_path, JwksCache(), OidcProvider(domain=key_server.url, application_id="app"))
    try:
        with pytest.raises(AuthError, match="names issuer 'https://someone-else.test'"):
            await fresh.verify(key.sign(claims(iss=key_server.url)))
    finally:
        await fresh.jwks.close()
