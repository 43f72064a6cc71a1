"""``opencom dev`` and ``opencom serve``: run the app's server (``runtime.server``) on a data directory.

Both hold the data directory's lock for the server's whole life (a second server, or an
in-process ``opencom run``, on the same data is refused) and announce the server in
``<data>/server.json`` so that the other commands find it; the file goes when the server stops.
On PostgreSQL no lock is held: several servers may serve one deployment (``docs/scaling.md``).
``dev`` also watches the app's files and hot-reloads new code into the running server without
dropping its clients (``cli.hot_reload``); ``serve`` runs the code it started with. Both serve the
app's HTTP actions on a second port, over TLS when given a certificate, and may sit behind a proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
from contextlib import AbstractContextManager, nullcontext, suppress
from pathlib import Path
from typing import Any

from cli.data_lock import locked
from cli.discovery import (
    add_location_options,
    find_server,
    remove_server_file,
    resolve_locations,
    write_server_file,
)
from cli.hot_reload import snapshot, watch_and_reload
from cli.in_process import load_app_or_fail
from cli.output import EXIT_OK, CliError, UsageError, notice
from runtime import knobs, store
from runtime.database.database import Database
from runtime.functions.executor import DEFAULT_DATA_DIR, Executor
from runtime.server.app import effective_site_port, serve
from runtime.server.forwarded import TrustedProxies
from runtime.server.tls import TlsConfigError, server_tls_context
from runtime.tokens.admin_key import admin_key_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3210


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``dev`` and ``serve`` commands."""
    for name, help_text, description in (
        (
            "dev",
            "serve the app, reloading its code whenever a file changes",
            (
                "Serve the app for development: the Convex sync protocol and HTTP API on --host/--port, the app's "
                "HTTP actions on --site-port, with hot reload. Edits to functions/**/*.py and schema.py are loaded "
                "into the running server without dropping its clients; code that fails to import, or a schema that "
                "stored documents violate, is reported and the previous code keeps serving."
            ),
        ),
        (
            "serve",
            "serve the app (no reload)",
            (
                "Serve the app: the Convex sync protocol and HTTP API on --host/--port, the app's HTTP actions on "
                "--site-port, running the code it started with."
            ),
        ),
    ):
        parser = commands.add_parser(name, help=help_text, description=description)
        parser.add_argument("--host", default=DEFAULT_HOST, help=f"the address to listen on (default {DEFAULT_HOST})")
        parser.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"the port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
        )
        parser.add_argument(
            "--site-port",
            type=int,
            default=None,
            metavar="PORT",
            help=(
                f"the port serving the app's HTTP actions on every path, /api/ included (default {knobs.SITE_PORT}, "
                "or a free one when --port is 0)"
            ),
        )
        _add_edge_options(parser)
        add_location_options(parser)
        parser.set_defaults(handler=handle, reload=name == "dev")


def _add_edge_options(parser: argparse.ArgumentParser) -> None:
    """TLS and reverse-proxy options."""
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="serve https:// and wss:// on both ports with this PEM certificate chain"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help=(
            "the URL clients reach the API at, when a proxy stands in front (default: $OPENCOM_CLOUD_URL, else the "
            "listening URL)"
        ),
    )
    parser.add_argument(
        "--public-site-url",
        metavar="URL",
        help="the URL clients reach the HTTP actions at (default: $OPENCOM_SITE_URL, else the listening URL)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        default=knobs.FORWARDED_ALLOW_IPS,
        help=(
            "comma-separated addresses or networks of reverse proxies whose X-Forwarded-Proto/Host/For headers are "
            "believed, or * for any (default: $OPENCOM_FORWARDED_ALLOW_IPS, else none)"
        ),
    )


def _exclusive(data_dir: Path) -> AbstractContextManager[Any]:
    """The data directory's lock, held while serving a SQLite store. Several servers may serve one
    PostgreSQL store from one (shared) data directory (``docs/scaling.md``): then nothing is held."""
    try:
        clustered = store.database_url() is not None
    except ValueError as error:
        raise UsageError(str(error)) from None
    if clustered:
        return nullcontext()
    running = find_server(data_dir)
    if running is not None:
        raise CliError(f"a server is already running on {data_dir}: {running.url} (pid {running.pid})")
    return locked(data_dir, "start a server")


def handle(args: argparse.Namespace) -> int:
    app_dir, data_dir = resolve_locations(args)
    with _exclusive(data_dir):
        try:
            asyncio.run(_serve(app_dir, data_dir, args))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CliError(f"cannot listen on {args.host}: {_busy_port(error, args)} is in use") from None
            raise CliError(f"cannot start the server: {error}") from None
        finally:
            remove_server_file(data_dir)
    notice("Server stopped.")
    return EXIT_OK


def _busy_port(error: OSError, args: argparse.Namespace) -> str:
    """Which of the two ports could not be bound (asyncio names the address), and the option that moves it."""
    for option, port in (("--port", args.port), ("--site-port", effective_site_port(args.port, args.site_port))):
        if port != 0 and f", {port})" in str(error):
            return f"port {port} (pass {option})"
    return "a port (pass --port and --site-port)"


def _edge(args: argparse.Namespace) -> dict[str, Any]:
    """``serve``'s TLS and proxy arguments from the command line, checked before anything starts."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for option, url in (("--public-url", args.public_url), ("--public-site-url", args.public_site_url)):
        if url is not None and not url.startswith(("http://", "https://")):
            raise UsageError(f"{option} {url}: expected an http:// or https:// URL")
    try:
        TrustedProxies(args.forwarded_allow_ips)
        tls = server_tls_context(args.tls_cert, args.tls_key) if args.tls_cert is not None else None
    except (TlsConfigError, ValueError) as error:
        raise CliError(str(error)) from None
    return {
        "tls": tls,
        "public_url": args.public_url and args.public_url.rstrip("/"),
        "public_site_url": args.public_site_url and args.public_site_url.rstrip("/"),
        "trusted_proxies": args.forwarded_allow_ips,
    }


async def _serve(app_dir: Path, data_dir: Path, args: argparse.Namespace) -> None:
    edge = _edge(args)
    loaded = snapshot(app_dir)
    app = load_app_or_fail(app_dir)
    try:
        executor = Executor(app, Database(data_dir, app.schema))
    except Exception as error:  # noqa: BLE001 - e.g. a schema the stored data cannot take
        raise CliError(f"cannot open the database in {data_dir}: {error}") from None
    watcher: asyncio.Task[None] | None = None

    def ready(url: str, site_url: str) -> None:
        nonlocal watcher
        write_server_file(data_dir, url, site_url)
        _print_banner(args.reload, executor, app_dir, data_dir, (url, site_url))
        if args.reload:
            watcher = asyncio.get_running_loop().create_task(
                watch_and_reload(executor, app_dir, loaded), name="opencom-dev-reload"
            )

    try:
        await serve(
            app_dir, data_dir, args.host, args.port, site_port=args.site_port, ready=ready, executor=executor, **edge
        )
    finally:
        if watcher is not None:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher


def _print_banner(reload: bool, executor: Executor, app_dir: Path, data_dir: Path, urls: tuple[str, str]) -> None:
    app, (url, site_url) = executor.app, urls
    key_file = admin_key_path(data_dir)
    key = f"in {_shown(key_file)} (print it with `opencom admin-key`)" if key_file.exists() else "none yet"
    public = [(function.kind != "query", path) for path, function in app.functions.items() if not function.is_internal]
    example = min(public)[1] if public else None
    location = "" if app_dir == Path.cwd().resolve() else f" --app {_shown(app_dir)}"
    if data_dir != app_dir / DEFAULT_DATA_DIR:
        location += f" --data {_shown(data_dir)}"
    lines = [
        f"opencom {'dev' if reload else 'serve'}: serving {app_dir.name} at {url}",
        f"  site:      {site_url} (HTTP actions)",
    ]
    if (executor.cloud_url, executor.site_url) != (url, site_url):
        lines.append(f"  public:    {executor.cloud_url}, site {executor.site_url}")
    lines += [
        f"  data:      {_shown(data_dir)}",
        f"  admin key: {key}",
    ]
    if example is not None:
        lines.append(f"  try:       opencom run {example}{location}")
    if reload:
        lines.append("  watching functions/ and schema.py for changes; Ctrl-C to stop")
    else:
        lines.append("  Ctrl-C to stop")
    print("\n".join(lines), flush=True)


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter to read and paste)."""
    with suppress(ValueError):
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    return str(path)
