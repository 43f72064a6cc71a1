"""``opencom dev`` and ``opencom serve``: run the app's server (``runtime.server``) on a data directory.

Both hold the data directory's lock for the server's whole life (a second server, or an
in-process ``opencom run``, on the same data is refused) and announce the server in
``<data>/server.json`` so that the other commands find it; the file goes when the server stops.
``dev`` also watches the app's files and hot-reloads new code into the running server without
dropping its clients (``cli.hot_reload``); ``serve`` runs the code it started with.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
from contextlib import suppress
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
from cli.output import EXIT_OK, CliError, notice
from runtime.admin_key import admin_key_path
from runtime.app_loader import App
from runtime.database import Database
from runtime.executor import DEFAULT_DATA_DIR, Executor
from runtime.server.app import serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3210


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``dev`` and ``serve`` commands."""
    for name, help_text, description in (
        (
            "dev",
            "serve the app, reloading its code whenever a file changes",
            (
                "Serve the app for development: the Convex sync protocol and HTTP API on --host/--port, with hot "
                "reload. Edits to functions/**/*.py and schema.py are loaded into the running server without dropping "
                "its clients; code that fails to import, or a schema that stored documents violate, is reported and "
                "the previous code keeps serving."
            ),
        ),
        (
            "serve",
            "serve the app (no reload)",
            "Serve the app: the Convex sync protocol and HTTP API on --host/--port, running the code it started with.",
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
        add_location_options(parser)
        parser.set_defaults(handler=handle, reload=name == "dev")


def handle(args: argparse.Namespace) -> int:
    app_dir, data_dir = resolve_locations(args)
    running = find_server(data_dir)
    if running is not None:
        raise CliError(f"a server is already running on {data_dir}: {running.url} (pid {running.pid})")
    with locked(data_dir, "start a server"):
        try:
            asyncio.run(_serve(app_dir, data_dir, args))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CliError(f"cannot listen on {args.host}:{args.port}: the port is in use (pass --port)") from None
            raise CliError(f"cannot start the server: {error}") from None
        finally:
            remove_server_file(data_dir)
    notice("Server stopped.")
    return EXIT_OK


async def _serve(app_dir: Path, data_dir: Path, args: argparse.Namespace) -> None:
    loaded = snapshot(app_dir)
    app = load_app_or_fail(app_dir)
    try:
        executor = Executor(app, Database(data_dir, app.schema))
    except Exception as error:  # noqa: BLE001 - e.g. a schema the stored data cannot take
        raise CliError(f"cannot open the database in {data_dir}: {error}") from None
    watcher: asyncio.Task[None] | None = None

    def ready(url: str) -> None:
        nonlocal watcher
        write_server_file(data_dir, url)
        _print_banner(args.reload, app, app_dir, data_dir, url)
        if args.reload:
            watcher = asyncio.get_running_loop().create_task(
                watch_and_reload(executor, app_dir, loaded), name="opencom-dev-reload"
            )

    try:
        await serve(app_dir, data_dir, args.host, args.port, ready=ready, executor=executor)
    finally:
        if watcher is not None:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher


def _print_banner(reload: bool, app: App, app_dir: Path, data_dir: Path, url: str) -> None:
    key_file = admin_key_path(data_dir)
    key = f"in {_shown(key_file)} (print it with `opencom admin-key`)" if key_file.exists() else "none yet"
    public = [(function.kind != "query", path) for path, function in app.functions.items() if not function.is_internal]
    example = min(public)[1] if public else None
    location = "" if app_dir == Path.cwd().resolve() else f" --app {_shown(app_dir)}"
    if data_dir != app_dir / DEFAULT_DATA_DIR:
        location += f" --data {_shown(data_dir)}"
    lines = [
        f"opencom {'dev' if reload else 'serve'}: serving {app_dir.name} at {url}",
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
