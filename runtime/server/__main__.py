"""``python -m runtime.server --app DIR [--data DIR] [--host H] [--port P] [--site-port P] [--tls-cert F --tls-key F]``.

Serves one app, and prints exactly one line once both ports accept connections (tests and tools
wait for it): ``opencom serving <app> at <url> (HTTP actions at <site url>)``. Stops cleanly on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from runtime.database.database import DamagedDatabaseError
from runtime.server.app import serve
from runtime.server.tls import TlsConfigError, server_tls_context


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runtime.server", description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, type=Path, help="the app directory (schema.py and functions/)")
    parser.add_argument("--data", type=Path, default=None, help="the data directory (default: <app>/.opencom)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3210, help="port to listen on; 0 picks a free one (default 3210)")
    parser.add_argument(
        "--site-port", type=int, default=None, help="port of the HTTP actions (default 3211; free when --port is 0)"
    )
    parser.add_argument("--tls-cert", type=Path, default=None, help="serve https/wss with this PEM certificate chain")
    parser.add_argument("--tls-key", type=Path, default=None, help="the private key of --tls-cert (PEM)")
    options = parser.parse_args(argv)
    if (options.tls_cert is None) != (options.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    try:
        tls = server_tls_context(options.tls_cert, options.tls_key) if options.tls_cert is not None else None
    except TlsConfigError as error:
        parser.error(str(error))
    name = options.app.resolve().name
    # Server diagnostics go to stderr; stdout carries only the ready line.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def ready(url: str, site_url: str) -> None:
        print(f"opencom serving {name} at {url} (HTTP actions at {site_url})", flush=True)

    try:
        asyncio.run(
            serve(options.app, options.data, options.host, options.port, site_port=options.site_port, tls=tls, ready=ready)
        )
    except DamagedDatabaseError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
