"""``opencom run FUNCTION [ARGS]``: call one function and print its result as JSON.

Like ``npx convex run``. With a server running on the data directory (or ``--url``), the call goes
to it over the HTTP API, so its subscribers see the write; ``--watch`` subscribes over the
WebSocket and prints every new result. With no server, the function runs right here on the
data directory, under the data lock so that no server starts meanwhile. Results are printed in
Convex encoded JSON (exact for int64 and bytes); log lines go to stderr, prefixed as Convex does.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from cli import remote
from cli.discovery import add_location_options, remote_locations, server_url
from cli.function_logs import print_log_lines
from cli.in_process import open_executor
from cli.output import EXIT_OK, CliError, UsageError, one_line, parse_json_argument, print_json
from runtime.functions.app_loader import load_app
from runtime.functions.definitions import Kind
from runtime.functions.paths import canonical_path
from runtime.tokens.admin_key import read_admin_key
from runtime.tokens.identity import Identity, identity_from_attributes
from runtime.values.errors import ConvexValueError, FunctionNotFoundError, error_message
from runtime.values.values import Value, from_json


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``run`` command."""
    parser = commands.add_parser(
        "run",
        help="run a function and print its result",
        description=(
            "Run a query, mutation or action and print its result as Convex encoded JSON. With a server running on "
            "the data directory (or --url) the call goes to that server; otherwise the function runs in this "
            "process on the data directory. Log lines of the call are printed on stderr."
        ),
        epilog='example: opencom run messages:send \'{"author": "ada", "body": "hi"}\'',
    )
    parser.add_argument("function", metavar="FUNCTION", help="the function path, e.g. messages:list or dir/module:name")
    parser.add_argument(
        "args", nargs="?", default="{}", metavar="ARGS", help="the arguments as a JSON object (default: {})"
    )
    parser.add_argument(
        "--watch", action="store_true", help="(queries) print the result again every time it changes, until Ctrl-C"
    )
    parser.add_argument(
        "--identity",
        metavar="JSON",
        help='run as this user identity, e.g. \'{"subject": "u1", "issuer": "https://auth.example"}\' (uses the admin key)',
    )
    parser.add_argument("--admin", action="store_true", help="call as admin, which may run internal functions")
    parser.add_argument(
        "--url", metavar="URL", help="the server to call (default: the one running on the data directory)"
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    path = _function_path(args.function)
    call_args = _call_args(args.args)
    identity = _identity(args.identity) if args.identity is not None else None
    app_dir, data_dir = remote_locations(args)
    url = server_url(args, data_dir)
    if url is not None:
        admin_key = _admin_key(args, data_dir, identity)
        if args.watch:
            try:
                return asyncio.run(remote.watch(url, path, call_args, admin_key=admin_key, identity=identity))
            except KeyboardInterrupt:
                return EXIT_OK  # Ctrl-C is how a watch ends
        kind = _local_kind(app_dir, path)
        return asyncio.run(remote.run(url, path, call_args, kind=kind, admin_key=admin_key, identity=identity))
    if args.watch:
        raise CliError("--watch needs a running server to subscribe to: start one with `opencom dev`, or pass --url")
    assert app_dir is not None and data_dir is not None
    return asyncio.run(_run_here(app_dir, data_dir, path, call_args, identity, args.admin))


def _function_path(text: str) -> str:
    try:
        return canonical_path(text)
    except FunctionNotFoundError as error:
        raise UsageError(str(error)) from None


def _call_args(text: str) -> dict[str, Value]:
    data = parse_json_argument(text, "ARGS")
    try:
        value = from_json(data)
    except ConvexValueError as error:
        raise UsageError(f"ARGS is not a Convex value: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f'ARGS must be a JSON object, like \'{{"name": "value"}}\'; got {text!r}')
    return value


def _identity(text: str) -> Identity:
    try:
        return identity_from_attributes(from_json(parse_json_argument(text, "--identity")))
    except (ValueError, ConvexValueError) as error:
        raise UsageError(f"--identity: {error}") from None


def _local_kind(app_dir: Path | None, path: str) -> Kind | None:
    """The function's kind from the local copy of the app (None if unknown: the server is asked)."""
    if app_dir is None:
        return None
    try:
        function = load_app(app_dir).functions.get(path)
    except Exception:  # noqa: BLE001 - a broken local copy only means asking the server
        return None
    return function.kind if function is not None else None


def _admin_key(args: argparse.Namespace, data_dir: Path | None, identity: Identity | None) -> str | None:
    if not args.admin and identity is None:
        return None
    key = read_admin_key(data_dir) if data_dir is not None else None
    if key is None:
        raise CliError(
            "--admin and --identity need the deployment's admin key, and none was found in the data directory"
        )
    return key


async def _run_here(
    app_dir: Path, data_dir: Path, path: str, call_args: dict[str, Value], identity: Identity | None, admin: bool
) -> int:
    async with open_executor(app_dir, data_dir, f"run {path}") as executor:
        function = executor.app.functions.get(path)
        result = await executor.run(path, call_args, identity=identity, admin=admin or identity is not None)
    print_log_lines(function.kind if function is not None else "query", path, result.log_lines)
    if result.error is not None:
        hint = " (it is internal: pass --admin)" if function is not None and function.is_internal and not admin else ""
        raise CliError(one_line(error_message(result.error)) + hint)
    print_json(result.value)
    return EXIT_OK
