"""Convex's HTTP API: one request, one function call, one JSON answer (convex-protocol §10).

- ``POST /api/query|mutation|action`` take ``{path, args, format}`` (``args`` an object or a
  one-element array); ``POST /api/function`` the same for any kind; ``POST /api/run/<module
  path>/<function>`` takes ``{args, format}``.
- A function's success *and* failure are HTTP 200 (``status: "success" | "error"``), failures with
  Convex's message and, for ConvexError, ``errorData``. Everything else that goes wrong (bad JSON,
  bad credentials, unknown route) is a non-2xx ``{code, message}``, as the clients expect.
- ``format: "convex_encoded_json"`` speaks Convex's lossless JSON (what the official clients send);
  otherwise values are the "clean" JSON of the public HTTP API.
- ``POST /api/query_ts`` gives the latest timestamp; ``/api/query_at_ts`` runs a query at it (only
  while it is still the latest: this store keeps no history to read older snapshots from).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from msgspec import UNSET

from runtime.functions.app_loader import App
from runtime.functions.connection import Connection
from runtime.functions.definitions import Kind
from runtime.functions.executor import FunctionResult
from runtime.functions.failures import describe, next_request_id
from runtime.functions.http_actions import parse_json
from runtime.server.authenticator import AuthenticationError, Caller
from runtime.server.events import event_for
from runtime.server.state import state_of
from runtime.server.timestamps import decode_ts, encode_ts
from runtime.values.errors import ArgumentValidationError, ConvexValueError, FunctionNotFoundError
from runtime.values.validators import single_argument
from runtime.values.values import Value, from_json, to_clean_json, to_json

ENCODED_JSON = "convex_encoded_json"
CLEAN_JSON = "json"


class RequestError(Exception):
    """A request the API refuses before any function runs; becomes ``{code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_response(status: int, code: str, message: str) -> web.Response:
    """The body Convex uses for every non-function error."""
    return web.json_response({"code": code, "message": message}, status=status)


async def _json_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip() and allow_empty:
        return {}
    try:
        body = parse_json(raw)
    except ValueError as error:
        raise RequestError(400, "BadJsonBody", f"Failed to parse the request body as JSON: {error}") from None
    if not isinstance(body, dict):
        raise RequestError(400, "BadJsonBody", "The request body must be a JSON object")
    return body


def _encoder(format_name: Any) -> Callable[[Value], Any]:
    if format_name == ENCODED_JSON:
        return to_json
    if format_name in (None, CLEAN_JSON):
        return to_clean_json
    raise RequestError(400, "BadFormat", f'Unsupported format {format_name!r}: use "json" or "convex_encoded_json"')


async def _caller(request: web.Request) -> Caller:
    try:
        return await state_of(request.app).auth.from_header(request.headers.get("Authorization"))
    except AuthenticationError as error:
        raise RequestError(401, error.code, str(error)) from None


def _function_args(args: Any) -> Any:
    if isinstance(args, list):
        args = single_argument(args)
    return from_json({} if args is None else args)


def _body(outcome: FunctionResult, encode: Callable[[Value], Any]) -> dict[str, Any]:
    if outcome.error is None:
        return {"status": "success", "value": encode(outcome.value), "logLines": outcome.log_lines}
    failure = describe(outcome.error)
    body: dict[str, Any] = {
        "status": "error",
        "errorMessage": failure.message(next_request_id()),
        "logLines": outcome.log_lines,
    }
    if failure.data is not UNSET:
        body["errorData"] = failure.data_json()
    return body


async def _run(request: web.Request, path: Any, args: Any, kind: Kind | None, format_name: Any) -> web.Response:
    state = state_of(request.app)
    encode = _encoder(format_name)
    if not isinstance(path, str) or not path:
        raise RequestError(400, "BadRequest", "The request body needs a `path` naming the function")
    caller = await _caller(request)
    started = time.perf_counter()
    try:
        decoded = _function_args(args)
    except (ConvexValueError, ArgumentValidationError) as error:
        outcome = FunctionResult(error=error)
    else:
        # No connection over HTTP: nothing is proven, only the client's address is known (runtime.functions.connection).
        connection = Connection(client_address=request.remote)
        outcome = await state.executor.run(
            path, decoded, identity=caller.identity, admin=caller.admin, kind=kind, connection=connection
        )
    state.events.publish(event_for(path, kind or _kind_of(state.executor.app, path), started, outcome))
    return web.json_response(_body(outcome, encode))


def _kind_of(app: App, path: str) -> str:
    try:
        return app.lookup(path, allow_internal=True).kind
    except FunctionNotFoundError:
        return "function"  # nothing ran; the event still records the failed call


def _handler(kind: Kind | None) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        body = await _json_object(request)
        return await _run(request, body.get("path"), body.get("args", {}), kind, body.get("format"))

    return handle


async def run_by_route(request: web.Request) -> web.Response:
    """``POST /api/run/<module path>/<function>``: the function named by the URL, clean JSON by default."""
    module, _, name = request.match_info["function"].strip("/").rpartition("/")
    if not module or not name:
        raise RequestError(404, "NotFound", "Expected /api/run/<module path>/<function name>")
    body = await _json_object(request, allow_empty=True)
    return await _run(request, f"{module}:{name}", body.get("args", {}), None, body.get("format"))


async def query_ts(request: web.Request) -> web.Response:
    """``POST /api/query_ts``: the timestamp a consistent series of ``query_at_ts`` calls may use."""
    with state_of(request.app).executor.database.snapshot() as ts:
        return web.json_response({"ts": encode_ts(ts)})


async def query_at_ts(request: web.Request) -> web.Response:
    """``POST /api/query_at_ts``: a query at ``ts``, which must still be the latest timestamp."""
    state = state_of(request.app)
    body = await _json_object(request)
    stamp = body.get("ts")
    try:
        wanted = decode_ts(stamp if isinstance(stamp, str) else "")
    except ValueError as error:
        raise RequestError(400, "BadRequest", f"`ts` must be a timestamp from /api/query_ts: {error}") from None
    encode = _encoder(body.get("format"))
    caller = await _caller(request)
    path = body.get("path")
    started = time.perf_counter()
    with state.executor.database.snapshot() as ts:
        if wanted != ts:
            raise RequestError(
                400,
                "HistoricalReadUnavailable",
                "That timestamp is no longer the latest one; get a new one from /api/query_ts",
            )
        try:
            function = state.executor.app.lookup(
                path if isinstance(path, str) else "", kind="query", allow_internal=caller.admin
            )
            outcome = state.executor.run_query(function, _function_args(body.get("args", {})), identity=caller.identity)
        except (FunctionNotFoundError, ConvexValueError, ArgumentValidationError) as error:
            outcome = FunctionResult(error=error)
    state.events.publish(event_for(str(path), "query", started, outcome))
    return web.json_response(_body(outcome, encode))


def add_routes(app: web.Application, prefix: str) -> None:
    """Mount the HTTP API under ``prefix`` (a route pattern for the part before ``/api``)."""
    router = app.router
    router.add_post(f"{prefix}api/query", _handler("query"))
    router.add_post(f"{prefix}api/mutation", _handler("mutation"))
    router.add_post(f"{prefix}api/action", _handler("action"))
    router.add_post(f"{prefix}api/function", _handler(None))
    router.add_post(prefix + "api/run/{function:.+}", run_by_route)
    router.add_post(f"{prefix}api/query_ts", query_ts)
    router.add_post(f"{prefix}api/query_at_ts", query_at_ts)
