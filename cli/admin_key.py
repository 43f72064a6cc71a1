"""``opencom admin-key``: print the deployment's admin key (creating it on first use).

The key is what ``Authorization: Convex <key>`` carries for operator calls; see
``runtime.tokens.admin_key`` for where it is kept.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.discovery import add_location_options, resolve_locations
from cli.output import EXIT_OK
from runtime.tokens.admin_key import ensure_admin_key


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``admin-key`` command."""
    parser = commands.add_parser(
        "admin-key",
        help="print the deployment's admin key",
        description=(
            "Print the admin key of the data directory (<data>/admin_key, created with mode 0600 on first use). "
            "Clients send it as `Authorization: Convex <key>` to run internal functions and act as any user."
        ),
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    _, data_dir = resolve_locations(args)
    print(ensure_admin_key(data_dir))
    return EXIT_OK
