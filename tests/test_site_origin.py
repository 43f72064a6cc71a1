"""HTTP actions on their own origin, streamed responses, and who answers CORS — through the real server.

Convex serves an app's HTTP actions on a second origin (convex-semantics §6.6: ``*.convex.site``,
port 3211 of a self-hosted backend), where every path is the app's, and puts its own CORS layer
only on the ``/api`` routes of the main origin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.server_fixtures import RunningServer, start_server

HTTP_APP = Path(__file__).parent / "apps" / "http"
ALLOWED = "https://allowed.example"
STRANGER = "https://evil.example"
CHUNK_TIMEOUT = aiohttp.ClientTimeout(total=20)


@pytest.fixture(name="server")
def http_server(tmp_path: Path) -> Iterator[RunningServer]:
    # A small response limit, so that one test can stream past it.
    server = start_server(HTTP_APP, tmp_path / "data", env={"OPENCOM_MAX_HTTP_RESPONSE_SIZE": "1500"})
    yield server
    server.stop()


async def test_the_site_origin_serves_every_path_to_the_app(server: RunningServer) -> None:
    """§6.6: the site origin's paths, ``/api/...`` included, are the router's; the main port keeps ``/api/``."""
    assert server.site_port != server.port
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.site_url}/api/hello") as response:
            assert (response.status, await response.text()) == (200, "hello from the app's own /api/ route")
        async with http.get(f"{server.url}/api/hello") as response:
            assert response.status == 404 and (await response.json())["code"] == "NotFound"
        async with http.post(f"{server.site_url}/api/query", json={"path": "counter:get", "args": {}}) as response:
            assert (response.status, await response.text()) == (404, "No HttpAction routed for /api/query")
        for origin in (server.site_url, server.url):  # the main port's fallback stays
            async with http.post(f"{origin}/echo", data=b"ping") as response:
                assert (response.status, await response.read()) == (200, b"ping")


async def test_functions_see_both_urls(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{server.site_url}/whereami") as response:
        seen = await response.json()
    assert seen == {"url": f"{server.site_url}/whereami", "cloud": server.url, "site": server.site_url}


async def test_a_streamed_body_is_sent_chunk_by_chunk(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession(timeout=CHUNK_TIMEOUT) as http,
        http.get(f"{server.site_url}/stream") as response,
    ):
        assert response.status == 200 and response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers  # the handler's own length is dropped
        received = b""
        while len(received) < len(b"first chunk;"):
            received += await response.content.readany()
        assert received == b"first chunk;"
        # Only now can the handler produce its second chunk: a buffered body would never arrive.
        async with http.post(f"{server.site_url}/bump", json={"by": 1}) as bumped:
            assert bumped.status == 201
        received += await response.content.read()
    assert received == b"first chunk;second chunk"


async def test_head_of_a_streamed_route_sends_no_body(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession(timeout=CHUNK_TIMEOUT) as http,
        http.head(f"{server.site_url}/stream") as response,
    ):
        assert response.status == 200 and await response.read() == b""


@pytest.mark.parametrize("path", ["/stream/fails", "/stream/big?n=3"])
async def test_a_stream_that_fails_or_outgrows_the_limit_is_cut_short(server: RunningServer, path: str) -> None:
    """The status is already sent: the response ends without its final chunk, and the server goes on."""
    async with aiohttp.ClientSession(timeout=CHUNK_TIMEOUT) as http:
        async with http.get(f"{server.site_url}{path}") as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        async with http.get(f"{server.site_url}/stream/big?n=2") as response:  # 1,200 bytes: within the limit
            assert await response.read() == b"x" * 1200
    assert ("BROKEN" if path == "/stream/fails" else "HttpResponseTooLarge") in server.log()


async def test_http_actions_own_their_cors(server: RunningServer) -> None:
    """Security: no server CORS on HTTP-action paths; preflights reach the app, on both ports."""
    preflight = {"Access-Control-Request-Method": "GET"}
    async with aiohttp.ClientSession() as http:
        for origin in (server.site_url, server.url):
            async with http.options(f"{origin}/cors", headers={"Origin": STRANGER, **preflight}) as response:
                assert response.status == 403 and await response.json() == {"error": "Origin not allowed"}
                assert "Access-Control-Allow-Origin" not in response.headers
                assert "Access-Control-Allow-Credentials" not in response.headers
            async with http.options(f"{origin}/cors", headers={"Origin": ALLOWED, **preflight}) as response:
                assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == ALLOWED
                assert "Access-Control-Allow-Credentials" not in response.headers
            async with http.get(f"{origin}/cors", headers={"Origin": STRANGER}) as response:
                assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
            async with http.post(f"{origin}/echo", data=b"x", headers={"Origin": STRANGER}) as response:
                assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
            async with http.get(f"{origin}/nowhere", headers={"Origin": STRANGER}) as response:
                assert response.status == 404 and "Access-Control-Allow-Origin" not in response.headers


async def test_the_api_keeps_the_servers_cors(server: RunningServer) -> None:
    """Convex's backend answers CORS for any origin on its ``/api`` routes, preflights included."""
    headers = {
        "Origin": STRANGER,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{server.url}/api/query", headers=headers) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == STRANGER
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
        body = {"path": "counter:get", "args": {}}
        async with http.post(f"{server.url}/api/query", json=body, headers={"Origin": STRANGER}) as response:
            assert response.headers["Access-Control-Allow-Origin"] == STRANGER
            assert json.loads(await response.text())["status"] == "success"
