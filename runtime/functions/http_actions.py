"""HTTP actions: ``http_action`` handlers mounted on an app's ``HttpRouter`` (``functions/http.py``).

    http = HttpRouter()

    @http_action
    async def hello(ctx, request):
        return Response.json({"hi": (await request.json())["name"]})

    http.route(path="/hello", method="POST", handler=hello)

Routing follows Convex (convex-semantics §6.6): an exact ``path`` wins, else the longest matching
``path_prefix``; ``HEAD`` is served as ``GET``; no match is a 404 ``No HttpAction routed for <path>``.
A handler gets an action context (``run_query``/``run_mutation``/``run_action``, scheduler, storage)
and a Fetch-like ``Request``, and returns a ``Response``. A ``Response`` whose body is an async
iterator of ``bytes``/``str`` chunks is streamed (the server sends it chunked, as each chunk comes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import knobs
from runtime.functions import logs
from runtime.functions.context import ActionCtx
from runtime.functions.definitions import FunctionDefinition
from runtime.functions.execution import Execution
from runtime.functions.failures import next_request_id
from runtime.values.errors import ConvexError, error_message
from runtime.values.values import to_json

ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")


def parse_json(text: bytes | str) -> Any:
    """``json.loads``, but JSON nested too deeply to parse is a ``ValueError`` like any other bad JSON.

    The parser recurses per nesting level: a body of 100k brackets would otherwise escape every
    ``except ValueError`` as a ``RecursionError`` and become a 500.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


class Request:
    """What a handler receives: method, URL, headers and the body (read once, any number of ways)."""

    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers = {name.lower(): value for name, value in headers.items()}
        self._body = body

    async def bytes(self) -> bytes:
        return self._body

    async def text(self) -> str:
        return self._body.decode("utf-8")

    async def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` if it is not JSON or is nested too deeply."""
        return parse_json(self._body or b"null")


ResponseBody = str | bytes | AsyncIterable[bytes | str] | None


@dataclass
class Response:
    """What a handler returns: ``body`` (str, bytes, None, or an async iterator of chunks), ``status``
    and ``headers``."""

    body: ResponseBody = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response with the right content type."""
        merged = {"content-type": "application/json", **(headers or {})}
        return cls(json.dumps(data), status, merged)

    def body_bytes(self) -> bytes:
        """The whole body of a response that is not streamed."""
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if isinstance(self.body, bytes | bytearray | memoryview):
            return bytes(self.body)
        raise TypeError(f"Response body must be str, bytes, None or an async iterator, got {type(self.body).__name__}")


HttpHandler = Callable[[Any, Request], Awaitable[Response]]


@dataclass(frozen=True)
class HttpActionDefinition:
    """A function that can be routed; it is not callable by path like queries and mutations."""

    handler: HttpHandler


def http_action(handler: HttpHandler) -> HttpActionDefinition:
    """Mark ``async def handler(ctx, request) -> Response`` as an HTTP action."""
    return HttpActionDefinition(handler)


class HttpRouter:
    """Routes of an app's HTTP actions, with Convex's registration rules and lookup order."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], HttpActionDefinition] = {}
        self.prefixes: dict[tuple[str, str], HttpActionDefinition] = {}

    def route(
        self,
        *,
        method: str,
        handler: HttpActionDefinition,
        path: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Register ``handler`` for ``method`` on an exact ``path`` or a ``path_prefix`` ending in ``/``."""
        method = method.upper()
        if method not in ALLOWED_METHODS:
            raise ValueError(f"'{method}' is not an allowed HTTP method (like GET, POST, PUT etc.)")
        if (path is None) == (path_prefix is None):
            raise ValueError("Exactly one of `path` and `path_prefix` must be given")
        if not isinstance(handler, HttpActionDefinition):
            raise TypeError("route() handler must be an @http_action function")
        route = path if path is not None else path_prefix
        assert route is not None
        if not route.startswith("/"):
            raise ValueError(f"Route '{route}' must start with '/'")
        if route == "/.files" or route.startswith("/.files/"):
            raise ValueError(f"Route '{route}' is reserved")
        if path is not None:
            if (method, path) in self.exact:
                raise ValueError(f"Path '{path}' for method {method} already in use")
            self.exact[(method, path)] = handler
            return
        if not route.endswith("/"):
            raise ValueError(f"pathPrefix '{route}' must end with '/'")
        if (method, route) in self.prefixes:
            raise ValueError(f"{method} pathPrefix {route} is already defined")
        self.prefixes[(method, route)] = handler

    def lookup(self, method: str, path: str) -> HttpActionDefinition | None:
        """The handler for a request, or None."""
        method = "GET" if method.upper() == "HEAD" else method.upper()
        found = self.exact.get((method, path))
        if found is not None:
            return found
        matches = [(prefix, handler) for (m, prefix), handler in self.prefixes.items() if m == method and path.startswith(prefix)]
        return max(matches, key=lambda match: len(match[0]))[1] if matches else None


@dataclass
class HttpOutcome:
    """What the server sends back for one HTTP action request: ``body``, or the chunks of ``stream``.

    A stream runs the handler's iterator as the server pulls it; it raises if the iterator fails or
    the response grows past the size limit, and the server then cuts the response short.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    log_lines: list[str]
    stream: AsyncGenerator[bytes, None] | None = None


async def run_http_action(executor: Any, request: Request, path: str, *, identity: Any = None) -> HttpOutcome:
    """Route and run one request through the app's router, turning failures into Convex's 404/500."""
    router = executor.app.http_router
    definition = router.lookup(request.method, path) if isinstance(router, HttpRouter) else None
    if definition is None:
        return HttpOutcome(404, {"content-type": "text/plain"}, f"No HttpAction routed for {path}".encode(), [])
    # An HTTP action is a public action to ``ctx.meta`` (convex-semantics §6.4).
    function = FunctionDefinition("action", "public", definition.handler, None, None, None, False, path=f"http:{path}")
    execution = Execution(executor, function, identity)
    with logs.capture() as buffer:
        try:
            response = await definition.handler(ActionCtx(execution), request)
            if not isinstance(response, Response):
                raise TypeError(f"HTTP action for {path} must return a Response, got {type(response).__name__}")
            if isinstance(response.body, AsyncIterable):
                stream = _chunks(response.body, buffer)
                return HttpOutcome(response.status, dict(response.headers), b"", buffer.lines, stream)
            body = response.body_bytes()
            if len(body) > knobs.MAX_HTTP_RESPONSE_SIZE:
                raise ValueError("HttpResponseTooLarge: HTTP actions support responses up to 20 MiB")
        except Exception as error:  # noqa: BLE001 - every failure becomes the 500 Convex sends
            payload: dict[str, Any] = {
                "code": f"[Request ID: {next_request_id()}] Server Error: {error_message(error)}"
            }
            if isinstance(error, ConvexError):
                payload["data"] = to_json(error.data)
            return HttpOutcome(500, {"content-type": "application/json"}, json.dumps(payload).encode(), buffer.finish())
    return HttpOutcome(response.status, dict(response.headers), body, buffer.finish())


async def _chunks(body: AsyncIterable[bytes | str], buffer: logs.LogBuffer) -> AsyncGenerator[bytes, None]:
    """The chunks of a streamed body as bytes, its ``print`` output captured, its size limited like a
    whole body's. Closing this generator closes the handler's iterator (its ``finally`` blocks run)."""
    iterator = aiter(body)
    sent = 0
    try:
        while True:
            # Capture only while user code runs: the context variable must not stay set across ``yield``.
            with logs.capture(buffer):
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"A streamed response body must yield bytes or str, got {type(chunk).__name__}")
            sent += len(data)
            if sent > knobs.MAX_HTTP_RESPONSE_SIZE:
                raise ValueError("HttpResponseTooLarge: HTTP actions support responses up to 20 MiB")
            yield bytes(data)
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            with logs.capture(buffer):
                await close()
        buffer.finish()
