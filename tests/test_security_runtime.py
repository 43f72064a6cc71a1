"""Attacks on the runtime through the real server, each refused exactly and leaving nothing behind.

Cross-connection mutation replays, runaway functions, deeply nested JSON, oversized arguments and
results, and private system tables: each test names the refusal a client sees and checks that
nothing was written or leaked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, mutation, start_server

APP = Path(__file__).parent / "apps" / "security"
TIME_LIMIT_S = 0.5
SERVER_ENV = {
    "OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL",
    "OPENCOM_QUERY_TIME_LIMIT_S": str(TIME_LIMIT_S),
    "OPENCOM_ACTION_TIME_LIMIT_S": "1",
    "OPENCOM_MAX_FUNCTION_ARGS_SIZE": str(1 << 20),
    "OPENCOM_MAX_FUNCTION_RESULT_SIZE": str(1 << 20),
}
TIMED_OUT = "Function execution timed out (maximum duration: 500ms)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path_factory.mktemp("security") / "data", env=SERVER_ENV)
    yield running
    assert running.stop() == 0, running.log()


async def call(server: RunningServer, kind: str, path: str, args: Any, **headers: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        body = {"path": path, "args": args, "format": "json"}
        async with http.post(f"{server.url}/api/{kind}", json=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def notes(server: RunningServer) -> list[str]:
    result = await call(server, "query", "notes:list", {})
    assert result["status"] == "success", result
    return result["value"]


def acting_as(server: RunningServer, subject: str) -> dict[str, Any]:
    identity = {"subject": subject, "issuer": "test", "tokenIdentifier": f"test|{subject}"}
    frame = {"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": server.admin_key}
    return {**frame, "impersonating": identity}


async def mutation_response(client: SyncConnection) -> dict[str, Any]:
    return await client.until(lambda frame, _: frame["type"] == "MutationResponse")


# --- 4. mutation replays are bound to the caller ------------------------------------------------
async def test_a_replay_under_another_identity_runs_as_its_own_request(server: RunningServer) -> None:
    session_id = str(uuid.uuid4())
    async with SyncConnection.open(server, session_id=session_id) as victim:
        await victim.send(acting_as(server, "alice"))
        await victim.send(mutation(0, "notes:add", {"text": "victim"}))
        first = await mutation_response(victim)
    assert first["success"] and first["result"]["owner"] == "alice"

    async with SyncConnection.open(server, session_id=session_id) as attacker:
        await attacker.send(acting_as(server, "mallory"))
        await attacker.send(mutation(0, "notes:add", {"text": "attacker"}))
        replay = await mutation_response(attacker)
    assert replay["success"] and replay["result"]["owner"] == "mallory"
    assert replay["result"]["token"] != first["result"]["token"]
    assert replay["result"]["id"] != first["result"]["id"]

    async with SyncConnection.open(server, session_id=session_id) as anonymous:
        await anonymous.send(mutation(0, "notes:add", {"text": "anonymous"}))
        replay = await mutation_response(anonymous)
    assert replay["success"] and replay["result"]["owner"] == "anonymous"
    assert replay["result"]["token"] != first["result"]["token"]
    found = await notes(server)
    assert {"alice:victim", "mallory:attacker", "anonymous:anonymous"} <= set(found)


async def test_the_same_caller_replaying_gets_its_first_answer_and_no_second_run(server: RunningServer) -> None:
    session_id = str(uuid.uuid4())
    responses = []
    for _ in range(2):
        async with SyncConnection.open(server, session_id=session_id) as client:
            await client.send(acting_as(server, "bob"))
            await client.send(mutation(3, "notes:add", {"text": f"once-{session_id}"}))
            responses.append(await mutation_response(client))
    assert responses[0]["result"] == responses[1]["result"]
    assert (await notes(server)).count(f"bob:once-{session_id}") == 1


# --- 6. runaway functions ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["runaway:spin", "runaway:spin_catching"])
async def test_a_runaway_query_times_out_over_http_and_the_sync_protocol(server: RunningServer, path: str) -> None:
    result = await call(server, "query", path, {})
    assert result["status"] == "error" and result["errorMessage"].endswith("\nUncaught Error: " + TIMED_OUT)
    async with SyncConnection.open(server) as client:
        await client.send(modify(0, add_query(0, path)))
        await client.expect("Transition")
        assert client.results[0]["type"] == "QueryFailed"
        assert client.results[0]["errorMessage"].endswith(TIMED_OUT)


async def test_a_runaway_mutation_times_out_and_leaves_nothing(server: RunningServer) -> None:
    before = await notes(server)
    async with SyncConnection.open(server) as client:
        await client.send(mutation(0, "runaway:write_then_spin"))
        response = await mutation_response(client)
    assert response["success"] is False and response["result"].endswith(TIMED_OUT)
    assert await notes(server) == before
    # The writer goes on: the next mutation commits.
    assert (await call(server, "mutation", "notes:add", {"text": "after-runaway"}))["status"] == "success"


async def test_an_action_computing_without_awaiting_is_stopped_at_its_limit(server: RunningServer) -> None:
    result = await call(server, "action", "runaway:spin_action", {})
    assert result["status"] == "error"
    assert result["errorMessage"].endswith("Uncaught Error: Function execution timed out (maximum duration: 1s)")
    assert (await call(server, "query", "limits:echo", {"text": "alive"}))["value"] == "alive"


async def test_other_clients_are_served_while_runaways_run(server: RunningServer) -> None:
    """While one client keeps the server busy with runaways, another's queries still get answers."""
    async with SyncConnection.open(server) as attacker:
        for request_id in range(3):
            await attacker.send(mutation(request_id, "runaway:write_then_spin"))
        answers = []
        for _ in range(3):
            answers.append(await call(server, "query", "limits:echo", {"text": "still here"}))
        for _ in range(3):
            assert (await mutation_response(attacker))["success"] is False
    assert [answer["value"] for answer in answers] == ["still here"] * 3
    assert "runaway:half-done" not in await notes(server)


async def test_a_timed_out_query_does_not_disturb_the_next_one(server: RunningServer) -> None:
    """The interruption never lands in later code, however the runaway ended."""
    for _ in range(3):
        assert (await call(server, "query", "runaway:spin", {}))["status"] == "error"
        started = time.monotonic()
        for _ in range(20):
            assert (await call(server, "query", "limits:echo", {"text": "ok"}))["value"] == "ok"
        assert time.monotonic() - started < 60  # bounded, not a timing assertion: no call hung


# --- 7. deeply nested JSON --------------------------------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/query", b'{"path": "limits:echo", "args": ' + DEEP + b"}"),
        ("/api/query", DEEP),
        ("/api/run/limits/echo", b'{"args": ' + DEEP + b"}"),
        ("/api/mutation", b'{"path": "notes:add", "args": {"text": ' + DEEP + b"}}"),
    ],
)
async def test_deeply_nested_json_is_a_400(server: RunningServer, route: str, body: bytes) -> None:
    before = await notes(server)
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + route, data=body, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400, await response.text()
            answer = await response.json()
    message = "Failed to parse the request body as JSON: the JSON is nested too deeply"
    assert answer == {"code": "BadJsonBody", "message": message}
    assert await notes(server) == before


async def test_deeply_nested_json_to_the_env_endpoint_is_a_400(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/_opencom/env", data=DEEP, headers=server.admin_headers) as response:
            assert response.status == 400
            assert (await response.json())["code"] == "BadJsonBody"


async def test_nested_json_that_parses_but_is_too_deep_for_a_value_is_refused(server: RunningServer) -> None:
    body = b'{"path": "limits:echo", "args": {"text": ' + b"[" * 900 + b"]" * 900 + b"}}"
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/query", data=body) as response:
            assert response.status == 200
            answer = await response.json()
    assert answer["status"] == "error" and "too nested" in answer["errorMessage"]


# --- 8. argument and result sizes -------------------------------------------------------------
async def test_oversized_arguments_are_refused_before_validation(server: RunningServer) -> None:
    big = "x" * (1 << 20)
    for args in ({"text": big}, {"unexpected": big}):
        result = await call(server, "query", "limits:echo", args)
        assert result["status"] == "error"
        assert result["errorMessage"].endswith(
            "Uncaught Error: Arguments for limits:echo are too large (actual: 1 MiB, limit: 1 MiB)"
        ), result
    before = await notes(server)
    result = await call(server, "mutation", "notes:add", {"text": big})
    assert result["status"] == "error" and "Arguments for notes:add are too large" in result["errorMessage"]
    assert await notes(server) == before


async def test_oversized_results_are_refused(server: RunningServer) -> None:
    result = await call(server, "query", "limits:sized", {"size": 2 << 20})
    assert result["status"] == "error"
    assert result["errorMessage"].endswith(
        "Uncaught Error: Function limits:sized return value is too large (actual: 2 MiB, limit: 1 MiB)"
    )
    assert (await call(server, "query", "limits:sized", {"size": 10}))["value"] == "x" * 10


# --- 9. private system tables -----------------------------------------------------------------
async def test_environment_variables_are_not_readable_from_functions(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        secret = {"name": "SECRET_KEY", "value": "hunter2"}
        async with http.post(server.url + "/api/_opencom/env", json=secret, headers=server.admin_headers) as response:
            assert response.status == 200
    result = await call(server, "query", "limits:system_rows", {"table": "_environment_variables"})
    assert result["status"] == "error" and "hunter2" not in str(result)
    assert result["errorMessage"].endswith(
        'Uncaught Error: System table "_environment_variables" cannot be read by functions: '
        "db.system can only read _scheduled_functions and _storage."
    )
    for table in ("_storage", "_scheduled_functions"):
        assert (await call(server, "query", "limits:system_rows", {"table": table}))["status"] == "success"


async def test_a_private_system_document_is_null_to_functions(server: RunningServer, tmp_path: Path) -> None:
    from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
    from runtime.values.ids import encode_id

    # Any id of the private table reads as a missing document, whether or not it exists.
    forged = encode_id(SYSTEM_TABLE_NUMBERS["_environment_variables"], bytes(16))
    result = await call(server, "query", "limits:system_get", {"id": forged})
    assert result == {"status": "success", "value": None, "logLines": []}
