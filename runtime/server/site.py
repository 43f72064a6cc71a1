"""What the server answers besides the Convex API: the app's HTTP actions, file storage, and the
built-in auth issuer's discovery documents.

Convex serves HTTP actions on a second origin (``*.convex.site``); here one port serves both, so
every path outside ``/api/`` that no other route claims goes to the app's ``HttpRouter`` (an
unknown ``/api/`` path stays the API's JSON 404). The
server's URL is therefore both ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` (the issuer of the
tokens the deployment signs), unless ``OPENCOM_SITE_URL`` names a public URL in front of it.
"""

from __future__ import annotations

from aiohttp import web

from runtime import file_storage, knobs
from runtime.auth.well_known import well_known_routes
from runtime.http_actions import Request, run_http_action
from runtime.server.state import state_of

_HTTP_ACTION_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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
    return web.Response(status=outcome.status, body=outcome.body, headers=outcome.headers)


def add_routes(app: web.Application, prefix: str) -> None:
    """Mount storage, the issuer's ``/.well-known`` documents and, last, the HTTP action catch-all."""
    executor = state_of(app).executor
    app.add_routes(file_storage.routes(executor, prefix))
    app.add_routes(well_known_routes(executor.auth.issuer))
    for method in _HTTP_ACTION_METHODS:
        if method != "HEAD":  # aiohttp answers HEAD from the GET route
            app.router.add_route(method, "/{path:(?!/?api/).*}", http_action)
