"""The real server beyond the Convex API: HTTP actions, file storage, the built-in issuer, and
signed-in callers over HTTP and the websocket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, start_server

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(APPS / "http", tmp_path / "data")
    yield server
    server.stop()


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(APPS / "auth", tmp_path / "data")
    yield server
    server.stop()


async def test_http_actions_are_served_outside_the_api(http_server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{http_server.url}/echo", data=b"ping", headers={"Content-Type": "text/plain"}) as response:
            assert (response.status, await response.read()) == (200, b"ping")
        async with http.post(f"{http_server.url}/bump", json={"by": 3}) as response:
            assert response.status == 201 and await response.json() == {"value": 3.0}
        async with http.get(f"{http_server.url}/files/deep/a") as response:
            assert await response.text() == "deeper prefix wins"
        async with http.get(f"{http_server.url}/nowhere") as response:
            assert (response.status, await response.text()) == (404, "No HttpAction routed for /nowhere")
        async with http.get(f"{http_server.url}/fail") as response:
            assert response.status == 500 and (await response.json())["data"] == {"code": "NOPE"}
        # The Convex API still answers on the same port.
        async with http.post(f"{http_server.url}/api/query", json={"path": "counter:get", "args": {}}) as response:
            assert (await response.json())["value"] == 3.0


async def sign_up(server: RunningServer, email: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as http:
        body = {
            "path": "auth:signIn",
            "args": {"provider": "password", "params": {"flow": "signUp", "email": email, "password": "correct horse 1"}},
            "format": "json",
        }
        async with http.post(f"{server.url}/api/action", json=body) as response:
            result = await response.json()
    assert result["status"] == "success", result
    return result["value"]["tokens"]


async def test_issuer_documents_and_bearer_tokens(auth_server: RunningServer) -> None:
    tokens = await sign_up(auth_server, "ada@example.com")
    async with aiohttp.ClientSession() as http:
        # The issuer is the site origin (CONVEX_SITE_URL), which serves its documents; so does the main port.
        for origin in (auth_server.site_url, auth_server.url):
            async with http.get(f"{origin}/.well-known/openid-configuration") as response:
                configuration = await response.json()
            assert configuration["issuer"] == auth_server.site_url
        async with http.get(configuration["jwks_uri"]) as response:
            assert (await response.json())["keys"]
        headers = {"Authorization": f"Bearer {tokens['token']}"}
        async with http.post(f"{auth_server.url}/api/query", json={"path": "me:whoami", "args": {}}, headers=headers) as response:
            identity = (await response.json())["value"]
        assert identity["issuer"] == auth_server.site_url
        assert identity["tokenIdentifier"].startswith(auth_server.site_url + "|")
        bad = {"Authorization": "Bearer not-a-jwt"}
        async with http.post(f"{auth_server.url}/api/query", json={"path": "me:whoami", "args": {}}, headers=bad) as response:
            assert response.status == 401 and "code" in await response.json()


async def test_websocket_authenticate_changes_a_live_query(auth_server: RunningServer) -> None:
    tokens = await sign_up(auth_server, "grace@example.com")
    async with SyncConnection.open(auth_server) as connection:
        await connection.send(modify(0, add_query(0, "me:whoami")))
        await connection.settle(lambda c: 0 in c.results)
        assert connection.value(0) is None
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": tokens["token"]})
        transition = await connection.until(
            lambda frame, _: frame.get("type") == "Transition" and frame["endVersion"]["identity"] == 1
        )
        assert transition["startVersion"]["identity"] == 0
        await connection.settle(lambda c: (c.value(0) or {}).get("issuer") == auth_server.site_url)
        await connection.send({"type": "Authenticate", "baseVersion": 1, "tokenType": "User", "value": "garbage"})
        error = await connection.expect("AuthError")
        assert error["baseVersion"] == 1 and error["authUpdateAttempted"] is True


async def test_storage_round_trip_over_http(http_server: RunningServer, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        # generate an upload URL through an admin call of an internal action-less path: use the HTTP API
        body = {"path": "files:upload_url", "args": {}, "format": "json"}
        async with http.post(f"{http_server.url}/api/mutation", json=body) as response:
            result = await response.json()
        upload_url = result["value"]
        async with http.post(upload_url, data=b"\x00binary\xff", headers={"Content-Type": "application/x-test"}) as response:
            storage_id = (await response.json())["storageId"]
        body = {"path": "files:url", "args": {"id": storage_id}, "format": "json"}
        async with http.post(f"{http_server.url}/api/query", json=body) as response:
            file_url = (await response.json())["value"]
        async with http.get(file_url) as response:
            assert response.headers["Content-Type"] == "application/x-test"
            assert await response.read() == b"\x00binary\xff"


async def test_search_subscriptions_update_only_for_matching_writes(tmp_path: Path) -> None:
    server = start_server(APPS / "search", tmp_path / "data")
    try:
        async with SyncConnection.open(server) as connection:
            await connection.send(modify(0, add_query(0, "notes:search", {"text": "rocket"})))
            await connection.settle(lambda c: 0 in c.results)
            assert connection.value(0) == []
            runs_before = (await connection.stats(server))["queryExecutions"]
            await connection.send({"type": "Mutation", "requestId": 0, "udfPath": "notes:add", "args": [{"body": "banana bread", "channel": "x"}]})
            await connection.expect("MutationResponse")
            assert (await connection.stats(server))["queryExecutions"] == runs_before  # no term matched: nothing re-ran
            await connection.send({"type": "Mutation", "requestId": 1, "udfPath": "notes:add", "args": [{"body": "Rocketry club", "channel": "x"}]})
            await connection.settle(lambda c: c.value(0) == ["Rocketry club"])
    finally:
        server.stop()


async def test_an_expiring_token_gets_an_auth_error_the_client_can_refresh_on(tmp_path: Path) -> None:
    server = start_server(APPS / "auth", tmp_path / "data", env={"OPENCOM_AUTH_TOKEN_LIFETIME_S": "2"})
    try:
        tokens = await sign_up(server, "short@example.com")
        async with SyncConnection.open(server) as connection:
            await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": tokens["token"]})
            await connection.until(lambda frame, _: frame.get("type") == "Transition" and frame["endVersion"]["identity"] == 1)
            error = await connection.expect("AuthError", timeout=10.0)
            assert error == {"type": "AuthError", "error": "Token expired", "baseVersion": 1, "authUpdateAttempted": False}
            await connection.closed()
    finally:
        server.stop()
