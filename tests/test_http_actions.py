"""HTTP actions: router rules, lookup order, handlers running functions, and error responses."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runtime.functions.app_loader import load_app
from runtime.functions.executor import Executor
from runtime.functions.http_actions import HttpRouter, Request, http_action, run_http_action

APP = Path(__file__).parent / "apps" / "http"


@pytest.fixture
async def executor(tmp_path: Path) -> AsyncIterator[Executor]:
    opened = Executor.open(APP, tmp_path / "data")
    yield opened
    await opened.close()


def request(method: str, path: str, body: bytes = b"", content_type: str = "text/plain") -> Request:
    return Request(method, f"http://127.0.0.1{path}", {"Content-Type": content_type}, body)


async def test_exact_route_runs_with_the_request_body(executor: Executor) -> None:
    outcome = await run_http_action(executor, request("POST", "/echo", b"hello"), "/echo")
    assert (outcome.status, outcome.body, outcome.headers["content-type"]) == (200, b"hello", "text/plain")


async def test_handler_runs_mutations_and_returns_json(executor: Executor) -> None:
    outcome = await run_http_action(executor, request("POST", "/bump", b'{"by": 2}', "application/json"), "/bump")
    assert outcome.status == 201 and json.loads(outcome.body) == {"value": 2.0}
    assert await executor.call("counter:get") == 2.0


async def test_longest_prefix_wins_and_head_is_get(executor: Executor) -> None:
    assert (await run_http_action(executor, request("GET", "/files/a.txt"), "/files/a.txt")).body.startswith(b"file route")
    assert (await run_http_action(executor, request("GET", "/files/deep/x"), "/files/deep/x")).body == b"deeper prefix wins"
    assert (await run_http_action(executor, request("HEAD", "/files/a"), "/files/a")).status == 200


async def test_unrouted_paths_and_methods_are_404(executor: Executor) -> None:
    outcome = await run_http_action(executor, request("GET", "/echo"), "/echo")
    assert (outcome.status, outcome.body) == (404, b"No HttpAction routed for /echo")


async def test_errors_become_500_with_convex_error_data(executor: Executor) -> None:
    outcome = await run_http_action(executor, request("GET", "/fail"), "/fail")
    assert outcome.status == 500
    assert json.loads(outcome.body)["data"] == {"code": "NOPE"}
    wrong = await run_http_action(executor, request("GET", "/wrong"), "/wrong")
    assert wrong.status == 500 and "must return a Response" in json.loads(wrong.body)["code"]


async def test_an_async_iterator_body_is_a_stream_of_bytes(executor: Executor) -> None:
    outcome = await run_http_action(executor, request("GET", "/stream/big?n=2"), "/stream/big")
    assert outcome.status == 200 and outcome.body == b"" and outcome.stream is not None
    assert [chunk async for chunk in outcome.stream] == [b"x" * 600] * 2
    wrong = await run_http_action(executor, request("GET", "/stream/wrong"), "/stream/wrong")
    assert wrong.stream is not None
    with pytest.raises(TypeError, match="A streamed response body must yield bytes or str, got int"):
        await anext(wrong.stream)


def test_registration_rules() -> None:
    router = HttpRouter()

    @http_action
    async def handler(ctx, request):  # noqa: ANN001, ANN202 - a fixture handler
        raise AssertionError

    router.route(path="/a", method="GET", handler=handler)
    with pytest.raises(ValueError, match="Path '/a' for method GET already in use"):
        router.route(path="/a", method="get", handler=handler)
    with pytest.raises(ValueError, match="'TRACE' is not an allowed HTTP method"):
        router.route(path="/b", method="TRACE", handler=handler)
    with pytest.raises(ValueError, match="must end with '/'"):
        router.route(path_prefix="/p", method="GET", handler=handler)
    with pytest.raises(ValueError, match="Exactly one"):
        router.route(path="/x", path_prefix="/x/", method="GET", handler=handler)
    with pytest.raises(ValueError, match="reserved"):
        router.route(path="/.files", method="GET", handler=handler)
    with pytest.raises(ValueError, match="must start with '/'"):
        router.route(path="nope", method="GET", handler=handler)


NO_ROUTER = "`functions/http.py` must have a default export of a Router: define `http = HttpRouter()`."
NOT_A_ROUTER = "The default export of `functions/http.py` is not a Router."


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("from runtime.functions.http_actions import HttpRouter\nrouter = HttpRouter()\n", NO_ROUTER),
        ("http = 42\n", NOT_A_ROUTER),
    ],
)
def test_an_http_module_without_a_router_fails_to_load(
    make_app: Callable[[dict[str, str]], Path], source: str, message: str
) -> None:
    """convex-semantics §6.6: ``http.ts`` must export a Router by default, else the push fails."""
    app = make_app({"functions/http.py": source})
    with pytest.raises(TypeError) as raised:
        load_app(app)
    assert str(raised.value) == message


def test_an_app_without_http_module_has_no_router(make_app: Callable[[dict[str, str]], Path]) -> None:
    assert load_app(make_app({"functions/ping.py": "x = 1\n"})).http_router is None


async def test_a_failure_body_carries_the_request_id_prefix(executor: Executor) -> None:
    """§6.6: the 500 body's code is `[Request ID: <id>] Server Error: <message>`."""
    outcome = await run_http_action(executor, request("GET", "/fail"), "/fail")
    code = json.loads(outcome.body)["code"]
    assert re.fullmatch(r'\[Request ID: \d+\] Server Error: Uncaught ConvexError: \{"code":"NOPE"\}', code), code


async def test_an_http_action_is_a_public_action_to_ctx_meta(executor: Executor) -> None:
    """§6.4: HTTP actions report type "action" and visibility "public"."""
    outcome = await run_http_action(executor, request("GET", "/meta"), "/meta")
    metadata = json.loads(outcome.body)
    assert (metadata["type"], metadata["visibility"], metadata["componentPath"]) == ("action", "public", "")
