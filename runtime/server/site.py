"""What the server answers besides the Convex API: the app's HTTP actions, file storage, and the
built-in auth issuer's discovery documents.

Convex serves HTTP actions on an origin of their own (``*.convex.site``; port 3211 of a self-hosted
backend), and so does this server: on the site port every path, ``/api/...`` included, goes to the
app's ``HttpRouter`` — except the issuer's ``/.well-known`` documents, since the deployment's
issuer URL is its site URL (``CONVEX_SITE_URL``), as with Convex Auth. The main port keeps serving
HTTP actions as a fallback, on every path outside ``/api/`` that no other route claims (an unknown
``/api/`` path there stays the API's JSON 404). Both URLs may be public URLs in front of the server
(``OPENCOM_CLOUD_URL``, ``OPENCOM_SITE_URL``): the server's ``serve`` decides.

HTTP actions own their CORS: on either port the server adds no CORS header to their responses and
lets their preflights through to the app, which answers cross-origin callers as it chooses.
"""

from __future__ import annotations

import logging

from aiohttp import web

from runtime import knobs
from runtime.functions import file_storage
from runtime.functions.http_actions import HttpOutcome, Request, run_http_action
from runtime.server.state import state_of
from runtime.tokens.well_known import well_known_routes

logger = logging.getLogger("opencom.server")

_HTTP_ACTION_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Framing is the server's business once a body is streamed: a handler's length would be a lie.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


async def http_action(request: web.Request) -> web.StreamResponse:
    """Run the app's HTTP action for this path (404 ``No HttpAction routed for …`` when none)."""
    state = state_of(request.app)
    caller = await state.auth.from_header(request.headers.get("Authorization"))
    body = await request.read()
    if len(body) > knobs.MAX_HTTP_REQUEST_SIZE:
        raise web.HTTPRequestEntityTooLarge(max_size=knobs.MAX_HTTP_REQUEST_SIZE, actual_size=len(body))
    outcome = await run_http_action(
        state.executor,
        Request(request.method, str(request.url), dict(request.headers), body),
        request.path,
        identity=caller.identity,
    )
    if outcome.stream is None or request.method == "HEAD":
        return web.Response(status=outcome.status, body=outcome.body, headers=outcome.headers)
    return await _stream(request, outcome)


async def _stream(request: web.Request, outcome: HttpOutcome) -> web.StreamResponse:
    """Send a streamed body chunked, each chunk as the handler yields it.

    The status is sent before the body exists, so a handler that fails mid-stream cannot turn the
    response into a 500: the connection is closed instead, and the client sees a response cut short
    rather than a complete-looking one.
    """
    assert outcome.stream is not None
    headers = {name: value for name, value in outcome.headers.items() if name.lower() not in _FRAMING_HEADERS}
    response = web.StreamResponse(status=outcome.status, headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for chunk in outcome.stream:
            await response.write(chunk)
    except ConnectionError:
        return response  # the client went away: nobody is left to tell
    except Exception:  # noqa: BLE001 - whatever the handler's iterator raised
        logger.exception("HTTP action %s %s failed while streaming its response", request.method, request.path)
        if request.transport is not None:
            request.transport.close()
        return response
    finally:
        await outcome.stream.aclose()
    await response.write_eof()
    return response


def add_routes(app: web.Application, prefix: str) -> None:
    """The main port: storage, the issuer's ``/.well-known`` documents and, last, the HTTP-action fallback."""
    executor = state_of(app).executor
    app.add_routes(file_storage.routes(executor.file_storage, prefix))
    app.add_routes(well_known_routes(executor.auth.issuer))
    _add_http_actions(app, "/{path:(?!/?api/).*}")


def add_site_routes(app: web.Application) -> None:
    """The site port: the issuer's ``/.well-known`` documents, and the app's HTTP actions on every other path."""
    app.add_routes(well_known_routes(state_of(app).executor.auth.issuer))
    _add_http_actions(app, "/{path:.*}")


def _add_http_actions(app: web.Application, pattern: str) -> None:
    for method in _HTTP_ACTION_METHODS:
        app.router.add_route(method, pattern, http_action)
