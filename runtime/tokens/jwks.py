"""Remote issuers' public keys: fetched over HTTP, cached, and refetched when they rotate.

Verifying a token must not cost a network round trip, so keys are kept for ``AUTH_JWKS_TTL_S``.
Issuers rotate keys by publishing a new one before signing with it, so a token naming an unknown
``kid`` triggers a refetch — but at most one fetch per issuer every ``AUTH_JWKS_MIN_REFETCH_S``,
or anyone could make this server hammer an issuer by sending tokens with made-up ``kid``s. When
an issuer is unreachable, keys already known keep working until it answers again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from runtime import knobs
from runtime.tokens.config import normalize_issuer
from runtime.tokens.key_set import KeySet, KeySetError, parse_key_set

DISCOVERY_PATH = "/.well-known/openid-configuration"


class JwksUnavailable(Exception):
    """The keys of an issuer could not be fetched (network, HTTP status, or a malformed document)."""


@dataclass
class _Entry:
    keys: KeySet
    fetched_at: float  # when ``keys`` were last fetched successfully (-inf: never)
    attempted_at: float  # when a fetch was last tried, successful or not
    error: str | None = None  # why the last attempt failed, if it did


class JwksCache:
    """Keys by location: a JWKS URL, or an OIDC issuer whose discovery document names its JWKS URL.

    One lock per location makes concurrent verifications of a cold cache share a single fetch.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    async def key(self, location: str, kid: str, *, discover: bool) -> dict[str, Any] | None:
        """The JWK ``kid`` published at ``location``, or None if the issuer does not publish it.

        ``discover`` means ``location`` is an OIDC issuer. Raises ``JwksUnavailable`` when the
        keys cannot be fetched and no usable copy is cached.
        """
        entry = self._entries.get(location)
        if entry is not None and kid in entry.keys and not self._expired(entry):
            return entry.keys[kid]
        lock = self._locks.setdefault(location, asyncio.Lock())
        async with lock:
            entry = self._entries.get(location)  # another task may have refreshed it meanwhile
            if entry is not None:
                if kid in entry.keys and not self._expired(entry):
                    return entry.keys[kid]
                if self._clock() - entry.attempted_at < knobs.AUTH_JWKS_MIN_REFETCH_S:
                    return self._known(entry, kid)
            now = self._clock()
            try:
                keys = await self._fetch(location, discover)
            except JwksUnavailable as error:
                entry = entry or _Entry(keys={}, fetched_at=-math.inf, attempted_at=now)
                entry.attempted_at, entry.error = now, str(error)
                self._entries[location] = entry
                return self._known(entry, kid)
            self._entries[location] = _Entry(keys=keys, fetched_at=now, attempted_at=now)
            return keys.get(kid)

    async def close(self) -> None:
        """Close the HTTP session (the cache stays usable; a new session opens on the next fetch)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _expired(self, entry: _Entry) -> bool:
        return self._clock() - entry.fetched_at >= knobs.AUTH_JWKS_TTL_S

    @staticmethod
    def _known(entry: _Entry, kid: str) -> dict[str, Any] | None:
        # A stale key beats no key while the issuer is unreachable; with no key at all, say why.
        if kid in entry.keys:
            return entry.keys[kid]
        if entry.error is not None:
            raise JwksUnavailable(entry.error)
        return None

    async def _fetch(self, location: str, discover: bool) -> KeySet:
        url = location
        if discover:
            discovery_url = f"{normalize_issuer(location)}{DISCOVERY_PATH}"
            document = await self._get_json(discovery_url)
            if not isinstance(document, dict) or not isinstance(document.get("jwks_uri"), str):
                raise JwksUnavailable(f"{discovery_url} has no jwks_uri")
            named = document.get("issuer")
            if not isinstance(named, str) or normalize_issuer(named) != normalize_issuer(location):
                raise JwksUnavailable(f"{discovery_url} names issuer {named!r}, not {location!r}")
            url = document["jwks_uri"]
        try:
            return parse_key_set(await self._get_json(url), url)
        except KeySetError as error:
            raise JwksUnavailable(str(error)) from None

    async def _get_json(self, url: str) -> Any:
        if not url.startswith(("https://", "http://")):
            raise JwksUnavailable(f"{url!r} is not an http(s) URL")
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=knobs.AUTH_JWKS_FETCH_TIMEOUT_S)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.get(url, headers={"Accept": "application/json"}) as response:
                if response.status != 200:
                    raise JwksUnavailable(f"GET {url} answered HTTP {response.status}")
                return await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise JwksUnavailable(f"GET {url} failed: {type(error).__name__}: {error}") from None
