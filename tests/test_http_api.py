"""The HTTP API against the real server: request shapes, answers, errors, auth, CORS."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.server_fixtures import RunningServer, start_server

APP = Path(__file__).parent / "apps" / "sync"
ENCODED = "convex_encoded_json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path_factory.mktemp("http") / "data", env={"OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL"})
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


def room() -> str:
    return f"h-{uuid.uuid4().hex[:8]}"


async def test_mutation_then_query_with_array_or_object_args(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    channel = room()
    status, sent = await post(
        http,
        server.url + "/api/mutation",
        {"path": "messages:send", "args": [{"channel": channel, "body": "hi"}], "format": ENCODED},
    )
    assert status == 200 and sent["status"] == "success" and isinstance(sent["value"], str) and sent["logLines"] == []
    for args in ([{"channel": channel}], {"channel": channel}):
        status, listed = await post(
            http, server.url + "/api/query", {"path": "messages:list", "args": args, "format": ENCODED}
        )
        assert (status, listed) == (200, {"status": "success", "value": ["hi"], "logLines": []})


async def test_actions_round_trip_encoded_values_and_log_lines(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    value = {"n": {"$integer": "BQAAAAAAAAA="}, "b": {"$bytes": "AAE="}, "nan": {"$float": "AAAAAAAA+H8="}}
    status, body = await post(
        http, server.url + "/api/action", {"path": "calls:echo", "args": {"value": value}, "format": ENCODED}
    )
    assert (status, body) == (200, {"status": "success", "value": value, "logLines": ["[LOG] echoing"]})


async def test_clean_json_is_the_default_format(server: RunningServer, http: aiohttp.ClientSession) -> None:
    value = {"n": {"$integer": "BQAAAAAAAAA="}, "b": {"$bytes": "AAE="}}
    status, body = await post(http, server.url + "/api/action", {"path": "calls:echo", "args": {"value": value}})
    assert (status, body["value"]) == (200, {"n": "5", "b": "AAE="})


async def test_function_failures_are_200_with_error_data_only_for_convex_errors(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, with_data = await post(
        http, server.url + "/api/query", {"path": "calls:fails_with_data", "args": {}, "format": ENCODED}
    )
    assert status == 200 and with_data["status"] == "error"
    assert with_data["errorMessage"].startswith("[Request ID: ") and "Uncaught ConvexError" in with_data["errorMessage"]
    assert with_data["errorData"] == {"code": "NOPE", "count": {"$integer": "BQAAAAAAAAA="}}
    status, plain = await post(
        http, server.url + "/api/mutation", {"path": "calls:mutation_fails", "args": {}, "format": ENCODED}
    )
    assert (
        status == 200 and plain["errorMessage"].endswith("Uncaught Error: mutation boom") and "errorData" not in plain
    )
    status, missing = await post(http, server.url + "/api/query", {"path": "nope:nothing", "args": {}})
    assert status == 200 and missing["errorMessage"].endswith("Could not find public function for 'nope:nothing'.")
    status, wrong_kind = await post(http, server.url + "/api/query", {"path": "messages:send", "args": {}})
    assert status == 200 and "defined as Mutation" in wrong_kind["errorMessage"]


async def test_run_route_and_function_endpoint_take_any_kind(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, body = await post(http, server.url + "/api/run/calls/noisy", {"args": {"text": "ran"}})
    assert (status, body) == (200, {"status": "success", "value": "ran", "logLines": ["[LOG] saw ran"]})
    status, body = await post(
        http, server.url + "/api/function", {"path": "calls:echo", "args": {"value": 1}, "format": ENCODED}
    )
    assert (status, body["value"]) == (200, 1)
    async with http.post(server.url + "/api/run/calls/whoami") as response:  # no body at all
        assert response.status == 200 and (await response.json())["value"] is None


async def test_doubled_leading_slash_is_tolerated(server: RunningServer, http: aiohttp.ClientSession) -> None:
    status, body = await post(http, server.url + "//api/query", {"path": "calls:noisy", "args": {"text": "x"}})
    assert status == 200 and body["value"] == "x"


@pytest.mark.parametrize(
    ("path", "raw", "status", "code"),
    [
        ("/api/query", b"{not json", 400, "BadJsonBody"),
        ("/api/query", b"[1, 2]", 400, "BadJsonBody"),
        ("/api/query", b'{"args": {}}', 400, "BadRequest"),
        ("/api/query", b'{"path": "calls:noisy", "format": "xml"}', 400, "BadFormat"),
        ("/api/nothing_here", b"{}", 404, "NotFound"),
    ],
)
async def test_request_errors_are_non_2xx_code_and_message(
    server: RunningServer, http: aiohttp.ClientSession, path: str, raw: bytes, status: int, code: str
) -> None:
    async with http.post(server.url + path, data=raw, headers={"Content-Type": "application/json"}) as response:
        body = await response.json()
        assert response.status == status and body["code"] == code and body["message"]


async def test_bearer_tokens_go_through_the_verifier_and_admin_keys_unlock_internals(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    request = {"path": "calls:secret", "args": {}}
    status, body = await post(http, server.url + "/api/query", request, {"Authorization": "Bearer some.jwt.token"})
    assert status == 401 and body["code"] == "InvalidAuthHeader" and "Could not decode token" in body["message"]
    status, body = await post(http, server.url + "/api/query", request, {"Authorization": "Convex wrong-key"})
    assert status == 401 and body["code"] == "BadAdminKey"
    status, body = await post(http, server.url + "/api/query", request, {"Authorization": "Basic abc"})
    assert status == 401 and body["code"] == "InvalidAuthHeader"
    status, body = await post(http, server.url + "/api/query", request)
    assert status == 200 and "Could not find public function" in body["errorMessage"]
    status, body = await post(http, server.url + "/api/query", request, server.admin_headers)
    assert (status, body["value"]) == (200, "classified")


async def test_cors_allows_any_origin_and_answers_preflights(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    async with http.options(server.url + "/api/mutation", headers=preflight) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Headers"] == "content-type,authorization"
    async with http.post(
        server.url + "/api/query",
        json={"path": "calls:noisy", "args": {"text": "c"}},
        headers={"Origin": "https://app.example"},
    ) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    async with http.post(server.url + "/api/query", data=b"{bad") as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_query_at_the_latest_timestamp(server: RunningServer, http: aiohttp.ClientSession) -> None:
    status, stamped = await post(http, server.url + "/api/query_ts", {})
    assert status == 200 and len(stamped["ts"]) == 12
    request = {"path": "calls:noisy", "args": {"text": "t"}, "ts": stamped["ts"], "format": ENCODED}
    status, body = await post(http, server.url + "/api/query_at_ts", request)
    assert (status, body["value"]) == (200, "t")
    await post(http, server.url + "/api/mutation", {"path": "counters:bump", "args": {"name": room()}})
    status, stale = await post(http, server.url + "/api/query_at_ts", request)
    assert status == 400 and stale["code"] == "HistoricalReadUnavailable"


def test_legacy_python_http_client(server: RunningServer) -> None:
    channel = room()
    script = textwrap.dedent(
        f"""
        from convex.http_client import ConvexHttpClient
        from convex import ConvexError
        client = ConvexHttpClient({server.url!r})
        client.mutation("messages:send", {{"channel": {channel!r}, "body": "legacy"}})
        assert client.query("messages:list", {{"channel": {channel!r}}}) == ["legacy"]
        try:
            client.query("calls:fails_with_data")
        except ConvexError as error:
            assert error.data["code"] == "NOPE", error.data
        else:
            raise AssertionError("the failing query returned")
        print("ok")
        """
    )
    command = [sys.executable, "-W", "ignore", "-c", script]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().endswith("ok"), done.stderr + server.log()


async def test_arguments_that_are_not_one_object_fail_argument_validation(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """convex-semantics §6.2: the args array must hold exactly one object."""
    status, body = await post(http, server.url + "/api/query", {"path": "messages:list", "args": [{}, {}]})
    assert status == 200 and body["errorMessage"].endswith(
        "\nArgumentValidationError: Expected to receive a single object as the function's argument. "
        "Instead received 2 arguments: [{}, {}]"
    )
    status, body = await post(http, server.url + "/api/query", {"path": "messages:list", "args": [5.0]})
    assert body["errorMessage"].endswith(
        "\nArgumentValidationError: Expected to receive an object as the function's argument. Instead received: 5.0"
    )
