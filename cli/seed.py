"""``opencom seed``: fill the app with its demo data, in one command.

It calls the app's ``demo:seed`` internal function as admin, exactly as ``opencom run --admin
demo:seed`` would (on the running server when there is one, otherwise right here), and prints
its result: for the Opencom app, the demo workspace and the admin's email and password. What
"demo data" means, and that seeding twice adds nothing, is the app's business.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli import run
from cli.discovery import add_location_options

SEED_FUNCTION = "demo:seed"


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``seed`` command."""
    parser = commands.add_parser(
        "seed",
        help="create the app's demo data (runs demo:seed)",
        description=(
            f"Run the app's {SEED_FUNCTION} function as admin and print its result as JSON. The Opencom app creates "
            "a demo workspace with an admin (whose email and password are printed), visitors and conversations; "
            "running it again adds nothing and sets a new password, or --password."
        ),
    )
    parser.add_argument("--password", help="the demo admin's password (default: a new random one)")
    parser.add_argument(
        "--url", metavar="URL", help="the server to call (default: the one running on the data directory)"
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    call_args = {"password": args.password} if args.password is not None else {}
    as_run = argparse.Namespace(
        **vars(args), function=SEED_FUNCTION, args=json.dumps(call_args), watch=False, identity=None, admin=True
    )
    return run.handle(as_run)
