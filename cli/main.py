"""``opencom``: the command line of the runtime, modelled on the Convex CLI (``npx convex ...``).

This module only builds the parser and dispatches: each command lives in its own module, which
registers its sub-parser and handler. Failures surface here as one ``error:`` line on stderr and an
exit code: 0 success, 1 a failing function or bad data, 2 a command line that makes no sense,
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cli import (
    admin_key,
    check,
    crons,
    data,
    env,
    function_spec,
    logs,
    run,
    seed,
    serve,
    snapshot_export,
    snapshot_import,
)
from cli.output import EXIT_FAILURE, EXIT_USAGE, CliError, one_line
from runtime.database.database import DamagedDatabaseError
from runtime.store import DATABASE_URL_VARIABLE

DESCRIPTION = "Run, inspect and serve an opencom app: a Python app speaking Convex's protocol."
EPILOG = "Run `opencom COMMAND --help` for the options of one command."


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (also what ``scripts/gen_cli_docs.py`` documents)."""
    parser = Parser(prog="opencom", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command", required=True)
    modules = (serve, run, data, snapshot_export, snapshot_import, logs, env, function_spec, crons, admin_key, seed, check)
    for module in modules:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``opencom`` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "database", None):
        # Every store this process opens (server, export, import, ...) reads it from there (runtime.store).
        os.environ[DATABASE_URL_VARIABLE] = args.database
    try:
        return int(args.handler(args))
    except CliError as error:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except DamagedDatabaseError as error:
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `opencom data big | head`: the reader left; nothing more to say to it.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
