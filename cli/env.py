"""``opencom env list|get|set|remove``: the deployment's environment variables (``ctx.env``).

Like ``npx convex env``. Variables are rows of a system table in the deployment's database
(``runtime.functions.environment``): reading them needs only a read-only look at the store, so ``list`` and
``get`` work with or without a server; changing them goes through the database's writer: the
running server's (``POST /api/_opencom/env`` with the admin key), or in-process when none runs.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from cli.discovery import add_location_options, find_server, resolve_locations
from cli.in_process import open_executor
from cli.output import EXIT_OK, CliError, notice
from cli.store_reader import StoreReader
from runtime import knobs
from runtime.functions.environment import ENVIRONMENT_VARIABLES, check_name, check_value, remove_env, set_env
from runtime.tokens.admin_key import read_admin_key
from runtime.values.errors import ConvexValueError


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``env`` command and its subcommands."""
    parser = commands.add_parser(
        "env",
        help="list, get, set or remove the deployment's environment variables",
        description="Manage the environment variables functions read as ctx.env.",
    )
    actions = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", dest="action", required=True)
    listing = actions.add_parser(
        "list", help="print every variable as NAME=value", description="Print every variable as NAME=value."
    )
    getting = actions.add_parser(
        "get", help="print one variable's value", description="Print the value of one variable."
    )
    getting.add_argument("name", metavar="NAME")
    setting = actions.add_parser(
        "set",
        help="create or change a variable",
        description="Create or change a variable (through the running server, if there is one).",
    )
    setting.add_argument("name", metavar="NAME")
    setting.add_argument("value", metavar="VALUE")
    removing = actions.add_parser(
        "remove",
        help="delete a variable",
        description="Delete a variable (through the running server, if there is one).",
    )
    removing.add_argument("name", metavar="NAME")
    for subparser in (listing, getting, setting, removing):
        add_location_options(subparser)
        subparser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    app_dir, data_dir = resolve_locations(args)
    if args.action == "list":
        for name, value in sorted(_stored(data_dir).items()):
            print(f"{name}={value}")
        return EXIT_OK
    if args.action == "get":
        value = _stored(data_dir).get(args.name)
        if value is None:
            raise CliError(f"environment variable {args.name} is not set")
        print(value)
        return EXIT_OK
    try:
        check_name(args.name)
        if args.action == "set":
            check_value(args.name, args.value)
    except ConvexValueError as error:
        raise CliError(str(error)) from None
    server = find_server(data_dir)
    if server is not None:
        return asyncio.run(_change_on_server(server.url, data_dir, args))
    return asyncio.run(_change(app_dir, data_dir, args))


def _stored(data_dir: Path) -> dict[str, str]:
    with StoreReader(data_dir) as store:
        return {str(row["name"]): str(row["value"]) for row in store.documents(ENVIRONMENT_VARIABLES)}


async def _change_on_server(url: str, data_dir: Path, args: argparse.Namespace) -> int:
    key = read_admin_key(data_dir)
    if key is None:
        raise CliError(f"no admin key in {data_dir}: cannot change variables on the server at {url}")
    body = {"name": args.name, "value": args.value if args.action == "set" else None}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=knobs.CLI_REQUEST_TIMEOUT_S)) as http:
            async with http.post(f"{url}/api/_opencom/env", json=body, headers={"Authorization": f"Convex {key}"}) as reply:
                answer = await reply.json(content_type=None)
                if reply.status != 200:
                    raise CliError(str(answer.get("message", answer)))
    except aiohttp.ClientError as error:
        raise CliError(f"could not reach the server at {url}: {error}") from None
    return _report(args, changed=bool(answer["changed"]))


def _report(args: argparse.Namespace, *, changed: bool) -> int:
    if args.action == "set":
        notice(f"Set {args.name}")
        return EXIT_OK
    if not changed:
        raise CliError(f"environment variable {args.name} is not set")
    notice(f"Removed {args.name}")
    return EXIT_OK


async def _change(app_dir: Path, data_dir: Path, args: argparse.Namespace) -> int:
    async with open_executor(app_dir, data_dir, f"env {args.action}") as executor:
        if args.action == "set":
            await set_env(executor.database, args.name, args.value)
            return _report(args, changed=True)
        return _report(args, changed=await remove_env(executor.database, args.name))
