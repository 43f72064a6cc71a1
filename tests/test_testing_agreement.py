"""The harness and the real server agree: one sequence of calls, run through ``ConvexTest`` and through
``opencom serve``'s HTTP API (real sockets, loopback), gives the same results and the same errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.testing import ConvexTest
from runtime.values.errors import InvalidIdError, error_message
from runtime.values.ids import decode_id
from runtime.values.values import to_json
from tests.server_fixtures import RunningServer, start_server

APP = Path(__file__).parent / "apps" / "harness"
SERVER_PREFIX = re.compile(r"^\[Request ID: [^\]]*\] (Server Error\n)?")

# (kind, path, args): writes, reads through an index, a rolled-back write, an action, bad input.
SEQUENCE: list[tuple[str, str, dict[str, Any]]] = [
    ("mutation", "messages:send", {"body": "first"}),
    ("mutation", "messages:send", {"body": "second"}),
    ("query", "messages:list", {}),
    ("mutation", "messages:send_then_fail", {"body": "rolled back"}),
    ("query", "messages:by_author", {"author": "anonymous"}),
    ("action", "messages:whoami_from_action", {}),
    ("query", "messages:list", {}),
    ("mutation", "counters:bump_later", {"name": "x", "delaySeconds": -1.0}),
    ("query", "messages:by_author", {"author": 42.0}),
    ("query", "counters:get", {"name": "x"}),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path / "data")
    yield running
    assert running.stop() == 0, running.log()


def outcome(value: Any = None, error: Exception | None = None) -> dict[str, Any]:
    """What both sides are compared on: the value as JSON, or the error's message and data."""
    if error is None:
        return {"value": _without_ids(to_json(value))}
    data = getattr(error, "data", None)
    return {"error": error_message(error), "data": None if data is None else to_json(data)}


def _without_ids(value: Any) -> Any:
    """Document ids differ between two databases (random bytes); their tables and everything else must match."""
    if isinstance(value, dict):
        return {key: _without_ids(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_without_ids(inner) for inner in value]
    if isinstance(value, str):
        try:
            return f"<id of table {decode_id(value)[0]}>"
        except InvalidIdError:
            return value
    return value


async def through_harness() -> list[dict[str, Any]]:
    results = []
    async with ConvexTest(APP) as t:
        for _kind, path, args in SEQUENCE:
            result = await t.call(path, args, public_only=True)
            results.append(outcome(result.value, result.error))
    return results


async def through_server(server: RunningServer) -> list[dict[str, Any]]:
    results = []
    async with aiohttp.ClientSession() as http:
        for kind, path, args in SEQUENCE:
            async with http.post(f"{server.url}/api/{kind}", json={"path": path, "args": args}) as response:
                assert response.status == 200
                body = await response.json()
            if body["status"] == "success":
                results.append({"value": _without_ids(body["value"])})
            else:  # the server wraps the message in what a remote caller needs: a request id
                message = SERVER_PREFIX.sub("", body["errorMessage"])
                results.append({"error": message, "data": body.get("errorData")})
    return results


async def test_the_harness_and_the_server_agree_on_a_sequence_of_calls(server: RunningServer) -> None:
    harness, served = await through_harness(), await through_server(server)
    assert harness == served
    assert harness[2] == {"value": [["anonymous", "first"], ["anonymous", "second"]]}
    assert harness[3]["data"] == {"code": "REFUSED", "message": "changed my mind"}
    assert "ArgumentValidationError" in harness[8]["error"]
