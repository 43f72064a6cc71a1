"""The aiohttp applications serving one app: routes, CORS, JSON errors, clean shutdown, ``serve``.

The main port's routes (each also under a doubled leading slash, which npm clients produce from a
deployment URL ending in ``/``):

- ``GET /api/sync`` and ``/api/{client version}/sync``: the sync protocol (``sync_session``);
- the HTTP API (``http_api``);
- file storage, the auth issuer's ``/.well-known`` documents and the app's HTTP actions (``site``);
- ``GET /api/_opencom/logs`` (WebSocket: one JSON function event per text frame) and
  ``GET /api/_opencom/stats`` (JSON counters), for ``opencom logs`` and tests, and
  ``POST /api/_opencom/env`` for ``opencom env set/remove``; when the server has
  an admin key they require ``Authorization: Convex <admin key>``.

The site port (``create_site_app``) serves the app's HTTP actions on every path (``site``). CORS is
the server's only on ``/api/`` paths, as on Convex's backend: any origin, credentials allowed,
preflights answered here. Everywhere else HTTP actions answer for themselves.

Shutdown closes every WebSocket explicitly (1001, going away): an aiohttp server left to its
default graceful shutdown keeps sockets open while a new process already serves the port, and
clients would never reconnect to it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web

from runtime import knobs
from runtime.auth.sessions import verify_live_token
from runtime.functions.environment import check_name, check_value, remove_env, set_env
from runtime.functions.executor import DEFAULT_DATA_DIR, Executor
from runtime.functions.http_actions import parse_json
from runtime.server import http_api, site
from runtime.server.authenticator import AuthenticationError
from runtime.server.forwarded import TrustedProxies, forwarded_middleware
from runtime.server.http_api import RequestError, error_response
from runtime.server.process_tuning import tune_garbage_collection, tune_thread_switching
from runtime.server.state import STATE_KEY, ServerState, state_of
from runtime.server.sync_session import SyncSession
from runtime.tokens.admin_key import ensure_admin_key
from runtime.values.errors import ConvexValueError

logger = logging.getLogger("opencom.server")

ROUTE_PREFIX = "/{lead:/?}"
_ERROR_CODES = {401: "Unauthenticated", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


# --- middleware -------------------------------------------------------------------------------
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def _is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "//api/"))


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for any origin (as Convex) on the ``/api/`` paths; other paths are HTTP actions' own."""
    if not _is_api_path(request.path):
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        headers = _cors_headers(request)
        headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
        headers["Access-Control-Max-Age"] = "86400"
        return web.Response(status=204, headers=headers)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(_cors_headers(request))
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``{code, message}`` bodies for every non-function error."""
    try:
        return await handler(request)
    except RequestError as error:
        return error_response(error.status, error.code, str(error))
    except AuthenticationError as error:
        return error_response(401, error.code, str(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, _ERROR_CODES.get(error.status, "BadRequest"), error.reason)
    except Exception:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise  # the socket is already open: no HTTP response can be sent any more
        logger.exception("request %s %s failed", request.method, request.path)
        return error_response(500, "InternalServerError", "Your request couldn't be completed. Try again later.")


def _middlewares(trusted_proxies: str) -> list[Any]:
    proxies = TrustedProxies(trusted_proxies)
    return [forwarded_middleware(proxies)] if proxies else []


# --- WebSocket routes -------------------------------------------------------------------------
async def sync_socket(request: web.Request) -> web.StreamResponse:
    """``/api/sync``: one ``SyncSession`` per connection."""
    state = state_of(request.app)
    # No permessage-deflate, as Convex's server: frames are small JSON, compressing each costs more CPU
    # than it saves on the wire, and an uncompressed frame can be written without a task (``outbox``).
    socket = web.WebSocketResponse(max_msg_size=knobs.SYNC_MAX_MESSAGE_BYTES, compress=False)
    await socket.prepare(request)
    session = SyncSession(state, socket, request.transport)
    state.sockets.add(socket)
    state.sessions.add(session)
    state.sessions_opened += 1
    try:
        await session.run()
    finally:
        state.sockets.discard(socket)
        state.sessions.discard(session)
    return socket


async def logs_socket(request: web.Request) -> web.StreamResponse:
    """``/api/_opencom/logs``: every function execution from now on, one JSON object per frame."""
    state = state_of(request.app)
    state.auth.require_admin(request.headers.get("Authorization"))
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    state.sockets.add(socket)

    async def forward(queue: asyncio.Queue) -> None:  # type: ignore[type-arg]
        while True:
            event = await queue.get()
            await socket.send_str(json.dumps(event.to_json()))

    with state.events.listen() as queue:
        sender = asyncio.create_task(forward(queue))
        try:
            async for _ in socket:
                pass  # nothing to read; the loop ends when the client goes away
        finally:
            sender.cancel()
            state.sockets.discard(socket)
    return socket


async def stats(request: web.Request) -> web.Response:
    """``/api/_opencom/stats``: subscription and execution counters."""
    state = state_of(request.app)
    state.auth.require_admin(request.headers.get("Authorization"))
    return web.json_response(state.stats())


async def environment(request: web.Request) -> web.Response:
    """``POST /api/_opencom/env`` ``{name, value}``: set a variable (``value: null`` removes it).

    Variables change through the server's own writer, so ``opencom env set`` works while it runs.
    """
    state = state_of(request.app)
    state.auth.require_admin(request.headers.get("Authorization"))
    try:
        body = parse_json(await request.read())
    except ValueError:
        raise RequestError(400, "BadJsonBody", "The body must be JSON {name, value}") from None
    if not isinstance(body, dict):
        raise RequestError(400, "BadJsonBody", "The body must be JSON {name, value}")
    name, value = body.get("name"), body.get("value")
    try:
        check_name(name)
        if value is None:
            changed = await remove_env(state.executor.database, name)
        else:
            check_value(name, value)
            await set_env(state.executor.database, name, value)
            changed = True
    except ConvexValueError as error:
        raise RequestError(400, "InvalidEnvironmentVariable", str(error)) from None
    return web.json_response({"changed": changed})


# --- lifecycle --------------------------------------------------------------------------------
async def _start(app: web.Application) -> None:
    state = state_of(app)
    await state.executor.start()
    state.spawn(state.keep_alive(), "opencom-keep-alive")


async def _close_sockets(app: web.Application) -> None:
    state = state_of(app)

    async def close(socket: web.WebSocketResponse) -> None:
        try:
            await asyncio.wait_for(socket.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutting down"), 1.0)
        except (TimeoutError, ConnectionError):
            pass

    await asyncio.gather(*(close(socket) for socket in list(state.sockets)))
    for task in list(state.background):
        task.cancel()


async def _stop_rerun_processes(app: web.Application) -> None:
    state_of(app).subscriptions.close()


def create_app(
    executor: Executor, *, admin_key: str | None = None, trusted_proxies: str = knobs.FORWARDED_ALLOW_IPS
) -> web.Application:
    """The aiohttp application serving ``executor``'s app; see ``state_of`` to plug in auth.

    ``admin_key``, when given, is the key ``Authorization: Convex <key>`` and ``Authenticate``
    frames must present to act as admin (and to use the ``_opencom`` endpoints). ``trusted_proxies``
    lists the proxies whose ``X-Forwarded-*`` headers are believed (``runtime.server.forwarded``).
    """
    middlewares = [*_middlewares(trusted_proxies), cors_middleware, error_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=knobs.HTTP_MAX_BODY_BYTES)
    app[STATE_KEY] = ServerState(executor, admin_key=admin_key)
    app.router.add_get(f"{ROUTE_PREFIX}api/sync", sync_socket)
    app.router.add_get(ROUTE_PREFIX + "api/{version}/sync", sync_socket)
    app.router.add_get(f"{ROUTE_PREFIX}api/_opencom/logs", logs_socket)
    app.router.add_get(f"{ROUTE_PREFIX}api/_opencom/stats", stats)
    app.router.add_post(f"{ROUTE_PREFIX}api/_opencom/env", environment)
    http_api.add_routes(app, ROUTE_PREFIX)
    site.add_routes(app, ROUTE_PREFIX)
    app[STATE_KEY].auth.verify_user_token = functools.partial(verify_live_token, executor)
    app.on_startup.append(_start)
    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_stop_rerun_processes)
    return app


def create_site_app(main: web.Application, *, trusted_proxies: str = knobs.FORWARDED_ALLOW_IPS) -> web.Application:
    """The HTTP-actions origin of the server ``main`` (``create_app``): same state, no CORS of its own.

    It has no lifecycle of its own: start ``main`` first and stop it last.
    """
    middlewares = [*_middlewares(trusted_proxies), error_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=knobs.HTTP_MAX_BODY_BYTES)
    app[STATE_KEY] = state_of(main)
    site.add_site_routes(app)
    return app


def effective_site_port(port: int, site_port: int | None) -> int:
    """The HTTP actions' port: ``site_port`` if given, else ``knobs.SITE_PORT`` — or a free one (0)
    when the main port is free too, so that servers started on free ports never collide."""
    if site_port is not None:
        return site_port
    return 0 if port == 0 else knobs.SITE_PORT


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def serve(
    app_dir: Path | str,
    data_dir: Path | str | None,
    host: str = "127.0.0.1",
    port: int = 3210,
    *,
    site_port: int | None = None,
    tls: ssl.SSLContext | None = None,
    public_url: str | None = None,
    public_site_url: str | None = None,
    trusted_proxies: str = knobs.FORWARDED_ALLOW_IPS,
    ready: Callable[[str, str], None] | None = None,
    executor: Executor | None = None,
) -> None:
    """Serve the app at ``app_dir`` until SIGINT/SIGTERM or cancellation, then shut down cleanly.

    ``data_dir`` defaults to ``<app>/.opencom``. The Convex API listens on ``port`` and the HTTP
    actions on ``site_port`` (see ``effective_site_port``; 0 picks a free one), both over TLS with
    ``tls``. ``public_url`` and ``public_site_url`` are the URLs clients reach them at when a proxy
    stands in front (default ``OPENCOM_CLOUD_URL`` and ``OPENCOM_SITE_URL``, else the listening
    URLs): functions see them as ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL``. ``ready`` is called
    with the two listening URLs once both accept connections. ``executor`` is an already opened
    executor of that app and data directory to serve (``opencom dev`` keeps it to hot-reload code
    into); it is closed on the way out all the same.
    """
    if executor is None:
        executor = Executor.open(app_dir, data_dir)
    site_port = effective_site_port(port, site_port)
    data = Path(data_dir) if data_dir is not None else Path(app_dir) / DEFAULT_DATA_DIR
    scheme = "https" if tls is not None else "http"
    runners: list[web.AppRunner] = []
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    try:
        app = create_app(executor, admin_key=ensure_admin_key(data), trusted_proxies=trusted_proxies)
        site_app = create_site_app(app, trusted_proxies=trusted_proxies)
        urls = []
        for application, wanted in ((app, port), (site_app, site_port)):
            runner = web.AppRunner(
                application, handle_signals=False, access_log=None, shutdown_timeout=knobs.SHUTDOWN_TIMEOUT_S
            )
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, host, wanted, ssl_context=tls).start()
            urls.append(_url(scheme, host, runner.addresses[0][1] if runner.addresses else wanted))
        url, site_url = urls
        executor.cloud_url = public_url or os.environ.get("OPENCOM_CLOUD_URL") or url
        executor.site_url = public_site_url or os.environ.get("OPENCOM_SITE_URL") or site_url
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
                handled.append(signum)
            except (NotImplementedError, RuntimeError):
                pass  # not the main thread: the caller stops us by cancelling instead
        tune_garbage_collection()
        tune_thread_switching()
        if ready is not None:
            ready(url, site_url)
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        for runner in reversed(runners):  # the site shares the main app's state: it goes first
            await runner.cleanup()
        await executor.close()
