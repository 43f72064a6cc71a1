"""Opencom's HTTP routes through the real server: on the site origin (where Opencom registers its
webhook under ``/api/``), and answering their own CORS on both origins."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest

from tests.server_fixtures import REPO, RunningServer, start_server

DISCOVERY = "/.well-known/opencom.json"
STRANGER = "https://evil.example"
LOCAL_DASHBOARD = "http://localhost:3000"  # allowed while OPENCOM_PUBLIC_CORS_ORIGINS is unset


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(REPO, tmp_path_factory.mktemp("opencom") / "data")
    yield running
    running.stop()


async def test_the_inbound_email_webhook_reaches_the_app_on_the_site_origin(server: RunningServer) -> None:
    """Opencom registers ``POST /api/email/inbound``: there, the app's signature check answers, not a 404."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.site_url}/api/email/inbound", json={"to": ["x@y"]}) as response:
            assert (response.status, await response.json()) == (401, {"error": "Webhook configuration error"})
        async with http.post(f"{server.url}/api/email/inbound", json={"to": ["x@y"]}) as response:
            assert response.status == 404 and (await response.json())["code"] == "NotFound"  # the API's path space


async def test_discovery_names_the_api_url_on_both_origins(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for origin in (server.site_url, server.url):
            async with http.get(f"{origin}{DISCOVERY}") as response:
                document = await response.json()
            assert (document["version"], document["convexUrl"]) == ("1.0", server.url)


async def test_discovery_from_a_disallowed_origin_gets_no_cors_grant(server: RunningServer) -> None:
    """Security: the app's 403 goes out without any ``Access-Control-Allow-*`` the server could add."""
    async with aiohttp.ClientSession() as http:
        for origin in (server.site_url, server.url):
            async with http.get(f"{origin}{DISCOVERY}", headers={"Origin": STRANGER}) as response:
                assert (response.status, await response.json()) == (403, {"error": "Origin not allowed"})
                assert "Access-Control-Allow-Origin" not in response.headers
                assert "Access-Control-Allow-Credentials" not in response.headers
            preflight = {"Origin": STRANGER, "Access-Control-Request-Method": "GET"}
            async with http.options(f"{origin}{DISCOVERY}", headers=preflight) as response:
                assert (response.status, await response.json()) == (403, {"error": "Origin not allowed"})
                assert "Access-Control-Allow-Origin" not in response.headers
            preflight["Origin"] = LOCAL_DASHBOARD
            async with http.options(f"{origin}{DISCOVERY}", headers=preflight) as response:
                assert response.status == 200
                assert response.headers["Access-Control-Allow-Origin"] == LOCAL_DASHBOARD
                assert "Access-Control-Allow-Credentials" not in response.headers
