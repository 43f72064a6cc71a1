"""``python -m runtime.server --app DIR [--data DIR] [--host H] [--port P]``: serve one app.

Prints exactly one line, ``opencom serving <app> at <url>``, once the server accepts connections
(tests and tools wait for it), and stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from runtime.database import DamagedDatabaseError
from runtime.server.app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runtime.server", description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, type=Path, help="the app directory (schema.py and functions/)")
    parser.add_argument("--data", type=Path, default=None, help="the data directory (default: <app>/.opencom)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3210, help="port to listen on; 0 picks a free one (default 3210)")
    options = parser.parse_args(argv)
    name = options.app.resolve().name
    # Server diagnostics go to stderr; stdout carries only the ready line.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def ready(url: str) -> None:
        print(f"opencom serving {name} at {url}", flush=True)

    try:
        asyncio.run(serve(options.app, options.data, options.host, options.port, ready=ready))
    except DamagedDatabaseError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
