"""Running behind a reverse proxy: public URLs, and ``X-Forwarded-*`` believed from trusted proxies only."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.server.forwarded import TrustedProxies, forwarded_middleware
from tests.cli_harness import Background

HTTP_APP = Path(__file__).parent / "apps" / "http"
PROXIED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "chat.example.com",
    "X-Forwarded-For": "203.0.113.9, 127.0.0.1",
}


async def _seen(request: web.Request) -> web.Response:
    return web.json_response({"url": str(request.url), "remote": request.remote})


@pytest.fixture
async def behind(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A server on 127.0.0.1 trusting the proxies ``request.param``; yields its base URL."""
    app = web.Application(middlewares=[forwarded_middleware(TrustedProxies(request.param))])
    app.router.add_get("/seen", _seen)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def _get(url: str, headers: dict[str, str]) -> dict[str, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return await response.json()


@pytest.mark.parametrize("behind", ["127.0.0.1", "127.0.0.0/8, ::1", "*"], indirect=True)
async def test_a_trusted_proxys_headers_become_the_request(behind: str) -> None:
    assert await _get(f"{behind}/seen", PROXIED) == {"url": "https://chat.example.com/seen", "remote": "203.0.113.9"}


@pytest.mark.parametrize("behind", ["", "10.0.0.0/8"], indirect=True)
async def test_anyone_elses_headers_are_ignored(behind: str) -> None:
    assert await _get(f"{behind}/seen", PROXIED) == {"url": f"{behind}/seen", "remote": "127.0.0.1"}


@pytest.mark.parametrize("behind", ["127.0.0.1"], indirect=True)
async def test_malformed_forwarded_values_are_ignored(behind: str) -> None:
    headers = {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "evil.example/path?x", "X-Forwarded-For": ""}
    assert await _get(f"{behind}/seen", headers) == {"url": f"{behind}/seen", "remote": "127.0.0.1"}


def test_trusted_proxies_are_checked() -> None:
    with pytest.raises(ValueError, match="forwarded-allow-ips: .*not-an-address"):
        TrustedProxies("127.0.0.1, not-an-address")
    assert not TrustedProxies(" , ")
    assert TrustedProxies("10.0.0.0/8").trusts("10.1.2.3") and not TrustedProxies("10.0.0.0/8").trusts("11.0.0.1")


def test_serve_behind_a_proxy(tmp_path: Path) -> None:
    """The documented setup: a proxy on this machine terminates TLS for two public hostnames."""
    server = Background(
        "serve", "--app", HTTP_APP, "--data", tmp_path / "data", "--port", "0",
        "--public-url", "https://api.example.com/", "--public-site-url", "https://actions.example.com",
        "--forwarded-allow-ips", "127.0.0.1",
    )  # fmt: skip
    try:
        site = server.wait_for(r"site:      (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"public:    https://api\.example\.com, site https://actions\.example\.com\n")
        request = urllib.request.Request(
            f"{site}/whereami", headers={**PROXIED, "X-Forwarded-Host": "actions.example.com"}
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            seen = json.loads(response.read())
    finally:
        assert server.interrupt() == 0
    assert seen == {
        "url": "https://actions.example.com/whereami",
        "cloud": "https://api.example.com",
        "site": "https://actions.example.com",
    }
