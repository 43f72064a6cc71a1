"""The sync protocol as transcripts: frames sent to the real server, frames it answers with.

Every connection here goes through ``SyncConnection``, which also checks on each frame what every
client relies on (version chaining, monotonic timestamps, ``logLines`` present).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.server_fixtures import (
    RunningServer,
    SyncConnection,
    add_query,
    modify,
    mutation,
    start_server,
    ts_value,
)

APP = Path(__file__).parent / "apps" / "sync"
SERVER_ENV = {"OPENCOM_SYNC_PING_INTERVAL_S": "1", "OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path_factory.mktemp("protocol") / "data", env=SERVER_ENV)
    yield running
    assert running.stop() == 0, running.log()


def channel() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


# --- connecting and the query set -------------------------------------------------------------
async def test_empty_query_set_gets_an_empty_transition_from_the_initial_version(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0))
        transition = await connection.expect("Transition")
        assert transition["startVersion"] == {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}
        assert transition["endVersion"]["querySet"] == 1 and transition["endVersion"]["identity"] == 0
        assert len(transition["endVersion"]["ts"]) == 12
        assert transition["modifications"] == []
        assert isinstance(transition["serverTs"], int)


async def test_added_query_gets_its_value_log_lines_and_journal(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(7, "calls:noisy", {"text": "hi"})))
        transition = await connection.expect("Transition")
        assert transition["modifications"] == [
            {"type": "QueryUpdated", "queryId": 7, "value": "hi", "logLines": ["[LOG] saw hi"], "journal": None}
        ]


@pytest.mark.parametrize("path", ["/api/sync", "/api/1.48.0/sync", "//api/sync", "//api/1.48.0/sync"])
async def test_every_client_url_shape_reaches_the_sync_endpoint(server: RunningServer, path: str) -> None:
    async with SyncConnection.open(server, path=path) as connection:
        await connection.send(modify(0))
        await connection.expect("Transition")


async def test_permessage_deflate_is_declined_as_convex_declines_it(server: RunningServer) -> None:
    # Browsers and the npm client's ``ws`` offer it on every connection; frames then go out uncompressed.
    url = server.url.replace("http", "ws", 1) + "/api/sync"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as socket:
        assert socket.compress == 0
        await socket.send_str(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0}))
        await socket.send_str(json.dumps(modify(0)))
        assert json.loads(await socket.receive_str(timeout=10))["type"] == "Transition"


async def test_js_suffixes_and_bare_modules_are_normalised(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "calls.js:noisy", {"text": "a"}), add_query(1, "calls", {})))
        transition = await connection.expect("Transition")
        by_id = {m["queryId"]: m for m in transition["modifications"]}
        assert by_id[0]["value"] == "a"
        assert by_id[1]["type"] == "QueryFailed"
        assert by_id[1]["errorMessage"].endswith("Could not find public function for 'calls:default'.")


async def test_removing_a_query_sends_query_removed(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "calls:noisy", {"text": "x"})))
        await connection.expect("Transition")
        await connection.send(modify(1, {"type": "Remove", "queryId": 0}))
        transition = await connection.expect("Transition")
        assert transition["modifications"] == [{"type": "QueryRemoved", "queryId": 0}]
        assert transition["endVersion"]["querySet"] == 2


async def test_failing_queries_send_query_failed_with_error_data_only_for_convex_errors(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(
            modify(0, add_query(0, "calls:fails_with_data"), add_query(1, "calls:fails"), add_query(2, "nope:missing"))
        )
        transition = await connection.expect("Transition")
        by_id = {m["queryId"]: m for m in transition["modifications"]}
        with_data, plain, missing = by_id[0], by_id[1], by_id[2]
        assert with_data["type"] == "QueryFailed"
        assert with_data["errorMessage"].startswith("[Request ID: ")
        assert "Server Error\nUncaught ConvexError: " in with_data["errorMessage"]
        assert with_data["errorData"] == {"code": "NOPE", "count": {"$integer": "BQAAAAAAAAA="}}
        assert plain["errorMessage"].endswith("Server Error\nUncaught Error: boom") and "errorData" not in plain
        assert missing["errorMessage"].endswith("Could not find public function for 'nope:missing'.")
        assert all(m["logLines"] == [] and m["journal"] is None for m in (with_data, plain, missing))


async def test_a_mutation_path_added_as_a_query_fails_as_a_query(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "messages:send", {"channel": "x", "body": "y"})))
        failed = (await connection.expect("Transition"))["modifications"][0]
        assert failed["type"] == "QueryFailed" and "defined as Mutation" in failed["errorMessage"]


# --- mutations and actions --------------------------------------------------------------------
async def test_mutation_response_precedes_the_transition_that_shows_its_write(server: RunningServer) -> None:
    room = channel()
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "messages:list", {"channel": room})))
        await connection.expect("Transition")
        await connection.send(mutation(0, "messages:send", {"channel": room, "body": "hello"}))
        response = await connection.expect("MutationResponse")
        assert response["success"] is True and isinstance(response["result"], str)
        assert response["logLines"] == [] and len(response["ts"]) == 12
        transition = await connection.expect("Transition")
        assert ts_value(transition["endVersion"]["ts"]) >= ts_value(response["ts"])
        assert connection.value(0) == ["hello"]


async def test_failed_mutations_answer_with_the_message_and_still_get_a_transition(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "counters:get", {"name": "never"})))
        await connection.expect("Transition")
        await connection.send(mutation(0, "calls:mutation_fails"))
        failed = await connection.expect("MutationResponse")
        assert failed["success"] is False and failed["ts"] is None and "errorData" not in failed
        assert failed["result"].startswith("[Request ID: ") and failed["result"].endswith(
            "Uncaught Error: mutation boom"
        )
        empty = await connection.expect("Transition")
        assert empty["modifications"] == []
        await connection.send(mutation(1, "calls:mutation_fails_with_data"))
        with_data = await connection.expect("MutationResponse")
        assert with_data["errorData"] == "nope" and with_data["result"].endswith("Uncaught ConvexError: nope")
        await connection.expect("Transition")
        assert connection.value(0) == 0.0  # the failed mutation's write left no trace


async def test_mutation_arguments_are_validated_and_decoded(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(mutation(0, "messages:send", {"channel": 5, "body": "x"}))
        failed = await connection.expect("MutationResponse")
        assert failed["success"] is False and "ArgumentValidationError" in failed["result"]
        await connection.expect("Transition")
        await connection.send(
            {"type": "Mutation", "requestId": 1, "udfPath": "messages:send", "args": [{"channel": {"$integer": "x"}}]}
        )
        malformed = await connection.expect("MutationResponse")
        assert malformed["success"] is False and "$integer" in malformed["result"]
        await connection.expect("Transition")


async def test_pipelined_mutations_run_in_arrival_order(server: RunningServer) -> None:
    room = channel()
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "messages:list", {"channel": room})))
        for request_id in range(20):
            await connection.send(mutation(request_id, "messages:send", {"channel": room, "body": str(request_id)}))
        responses: list[dict[str, object]] = []
        newest_transition_ts = 0
        while len(responses) < 20 or 0 not in connection.results or connection.value(0) != [str(i) for i in range(20)]:
            frame = await connection.receive()
            if frame["type"] == "MutationResponse":
                # No Transition covering a mutation's ts may arrive before its response.
                assert newest_transition_ts < ts_value(frame["ts"])
                responses.append(frame)
            elif frame["type"] == "Transition":
                newest_transition_ts = ts_value(frame["endVersion"]["ts"])
        assert [r["requestId"] for r in responses] == list(range(20))
        timestamps = [ts_value(r["ts"]) for r in responses]
        assert timestamps == sorted(timestamps) and len(set(timestamps)) == 20


async def test_replayed_mutations_answer_from_the_first_run(server: RunningServer) -> None:
    room, session = channel(), str(uuid.uuid4())
    async with SyncConnection.open(server, session_id=session) as first:
        await first.send(mutation(3, "messages:send", {"channel": room, "body": "once"}))
        original = await first.expect("MutationResponse")
    async with SyncConnection.open(server, session_id=session) as second:
        await second.send(modify(0, add_query(0, "messages:list", {"channel": room})))
        await second.send(mutation(3, "messages:send", {"channel": room, "body": "once"}))
        replayed = await second.until(lambda frame, _: frame["type"] == "MutationResponse")
        assert replayed == original
        await second.settle(lambda c: 0 in c.results)
        assert second.value(0) == ["once"]


async def test_actions_answer_with_action_response_then_a_transition(server: RunningServer) -> None:
    name = channel()
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "counters:get", {"name": name})))
        await connection.expect("Transition")
        value = {"n": {"$integer": "BQAAAAAAAAA="}, "b": {"$bytes": "AAE="}, "f": {"$float": "AAAAAAAA8H8="}}
        await connection.send({"type": "Action", "requestId": 0, "udfPath": "calls:echo", "args": [{"value": value}]})
        response = await connection.expect("ActionResponse")
        assert response == {
            "type": "ActionResponse",
            "requestId": 0,
            "success": True,
            "result": value,
            "logLines": ["[LOG] echoing"],
        }
        await connection.expect("Transition")
        await connection.send(
            {"type": "Action", "requestId": 1, "udfPath": "calls:bump_via_action", "args": [{"name": name}]}
        )
        await connection.until(lambda frame, _: frame["type"] == "ActionResponse")
        await connection.settle(lambda c: c.value(0) == 1.0)


# --- authentication ---------------------------------------------------------------------------
async def test_authenticate_none_bumps_the_identity_version(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "calls:whoami")))
        await connection.expect("Transition")
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "None"})
        transition = await connection.expect("Transition")
        assert transition["endVersion"]["identity"] == 1 and transition["modifications"] == []


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT-shaped token (header.payload.signature) that no key ever signed."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_user_tokens_no_provider_accepts_are_refused(server: RunningServer) -> None:
    token = unsigned_token({"iss": "https://nobody.example", "sub": "u1", "aud": "convex", "exp": 4102444800})
    async with SyncConnection.open(server) as connection:
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token})
        error = await connection.expect("AuthError")
        assert error["baseVersion"] == 0 and error["authUpdateAttempted"] is True
        assert "No auth provider found" in error["error"]
        await connection.closed()


async def test_admin_key_unlocks_internal_functions_and_acting_as_a_user(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "calls:secret"), add_query(1, "calls:whoami")))
        transition = await connection.expect("Transition")
        assert {m["type"] for m in transition["modifications"]} == {"QueryFailed", "QueryUpdated"}
        acting_as = {"subject": "u1", "issuer": "test", "tokenIdentifier": "test|u1"}
        await connection.send(
            {
                "type": "Authenticate",
                "baseVersion": 0,
                "tokenType": "Admin",
                "value": server.admin_key,
                "impersonating": acting_as,
            }
        )
        transition = await connection.expect("Transition")
        assert transition["endVersion"]["identity"] == 1
        assert connection.value(0) == "classified" and connection.value(1) == acting_as


async def test_a_wrong_admin_key_is_an_auth_error(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "wrong"})
        assert (await connection.expect("AuthError"))["authUpdateAttempted"] is True
        await connection.closed()


# --- keep-alive, telemetry, protocol violations ---------------------------------------------
async def test_idle_connections_get_json_pings_and_events_are_ignored(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send({"type": "Event", "eventType": "ClientConnect", "event": {"anything": 1}})
        await connection.send(modify(0))
        await connection.expect("Transition")
        assert await connection.receive(timeout=5, pings=True) == {"type": "Ping"}


@pytest.mark.parametrize(
    ("frames", "fragment"),
    [
        ([modify(1)], "Base version 1 passed up doesn't match the current version 0"),
        ([modify(0, add_query(0, "calls:whoami"), add_query(0, "calls:whoami"))], "Duplicate query id 0"),
        ([modify(0, {"type": "Remove", "queryId": 9})], "Removing unknown query id 9"),
        ([{"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 0, "modifications": []}], "must be greater"),
        ([{"type": "Authenticate", "baseVersion": 4, "tokenType": "None"}], "Base identity version 4"),
        ([{"type": "Mutation", "requestId": -1, "udfPath": "x", "args": [{}]}], "at `$.requestId`"),
        ([{"type": "Teleport"}], "Invalid value 'Teleport' - at `$.type`"),
        ([{"type": "Connect", "sessionId": "again"}], "Connect may only be sent once"),
    ],
)
async def test_protocol_violations_end_the_connection_with_fatal_error(
    server: RunningServer, frames: list[dict[str, object]], fragment: str
) -> None:
    async with SyncConnection.open(server) as connection:
        for frame in frames:
            await connection.send(frame)
        error = await connection.expect("FatalError")
        assert fragment in error["error"]
        await connection.closed()


async def test_frames_before_connect_and_non_json_frames_are_fatal(server: RunningServer) -> None:
    async with SyncConnection.open(server, connect=False) as connection:
        await connection.send(modify(0))
        assert "Expected Connect as the first message" in (await connection.expect("FatalError"))["error"]
    async with SyncConnection.open(server) as connection:
        await connection.socket.send_str("{not json")
        assert "Invalid message" in (await connection.expect("FatalError"))["error"]
    async with SyncConnection.open(server) as connection:
        await connection.socket.send_bytes(b"\x00\x01")
        assert "Binary frames" in (await connection.expect("FatalError"))["error"]


async def test_a_client_ahead_of_the_server_is_refused_without_fatal_error(server: RunningServer) -> None:
    ahead = "/////////38="  # i64::MAX
    async with SyncConnection.open(server, max_observed_ts=ahead) as connection:
        assert await connection.closed() == aiohttp.WSCloseCode.INTERNAL_ERROR


# --- restarts ---------------------------------------------------------------------------------
async def test_restart_keeps_data_and_timestamps_moving_forward(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=SERVER_ENV)
    try:
        async with SyncConnection.open(server) as connection:
            await connection.send(mutation(0, "counters:bump", {"name": "restart"}))
            before = ts_value((await connection.expect("MutationResponse"))["ts"])
            observed = connection.end_version["ts"]
        server.restart()
        async with SyncConnection.open(server, max_observed_ts=observed) as connection:
            await connection.send(modify(0, add_query(0, "counters:get", {"name": "restart"})))
            transition = await connection.expect("Transition")
            assert connection.value(0) == 1.0 and ts_value(transition["endVersion"]["ts"]) >= before
            await connection.send(mutation(0, "counters:bump", {"name": "restart"}))
            assert ts_value((await connection.expect("MutationResponse"))["ts"]) > before
    finally:
        assert server.stop() == 0, server.log()


async def test_shutdown_closes_sockets_with_going_away(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=SERVER_ENV)
    try:
        async with SyncConnection.open(server) as connection:
            await connection.send(modify(0))
            await connection.expect("Transition")
            stopping = asyncio.get_running_loop().run_in_executor(None, server.stop)
            assert await connection.closed() == aiohttp.WSCloseCode.GOING_AWAY
            assert await stopping == 0
    finally:
        server.stop()


# --- the official Python client ---------------------------------------------------------------
def test_official_python_client_queries_mutates_and_subscribes(server: RunningServer) -> None:
    room = channel()
    script = textwrap.dedent(
        f"""
        from convex import ConvexClient
        client = ConvexClient({server.url!r})
        assert client.query("messages:list", {{"channel": {room!r}}}) == []
        subscription = client.subscribe("messages:list", {{"channel": {room!r}}})
        assert next(subscription) == []
        client.mutation("messages:send", {{"channel": {room!r}, "body": "from python"}})
        assert next(subscription) == ["from python"]
        try:
            client.query("calls:fails_with_data")
        except Exception as error:
            assert error.data["code"] == "NOPE", error.data
        else:
            raise AssertionError("the failing query returned")
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().endswith("ok"), done.stderr + server.log()
