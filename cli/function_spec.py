"""``opencom function-spec``: every function of the app with its kind, visibility and validators.

Like ``npx convex function-spec``, the output is JSON for tools (client generators, agents):
validators appear in their Convex JSON form (``Validator.to_json()``), and a function without an
``args`` or ``returns`` validator shows ``{"type": "any"}``, as Convex does. ``crons`` lists the
cron jobs of ``functions/crons.py`` (name, schedule, function, args).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.crons import cron_listing
from cli.discovery import add_location_options, resolve_app
from cli.in_process import load_app_or_fail
from cli.output import EXIT_OK
from runtime.functions.app_loader import App
from runtime.values.validators import Validator

ANY: dict[str, Any] = {"type": "any"}


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``function-spec`` command."""
    parser = commands.add_parser(
        "function-spec",
        help="print every function's path, kind, visibility and validators as JSON",
        description=(
            "Print every function of the app as JSON: its path, kind (query, mutation, action), visibility "
            '(public, internal) and its args and returns validators in Convex\'s JSON form ({"type": "any"} '
            "when it declares none), and the cron jobs of functions/crons.py."
        ),
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def function_spec(app: App) -> dict[str, Any]:
    """The spec of every function of ``app``, sorted by path."""
    functions = []
    for path in sorted(app.functions):
        function = app.functions[path]
        functions.append(
            {
                "path": path,
                "kind": function.kind,
                "visibility": function.visibility,
                "args": _validator_json(function.args),
                "returns": _validator_json(function.returns),
            }
        )
    return {"functions": functions, "crons": cron_listing(app)}


def _validator_json(validator: Validator | None) -> dict[str, Any]:
    return ANY if validator is None else validator.to_json()


def handle(args: argparse.Namespace) -> int:
    app = load_app_or_fail(resolve_app(args.app))
    print(json.dumps(function_spec(app), indent=2))
    return EXIT_OK
