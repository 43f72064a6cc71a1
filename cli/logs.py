"""``opencom logs``: stream the function executions of a running server, like ``npx convex logs``.

The server publishes every execution on the WebSocket ``/api/_opencom/logs`` as one JSON object
(``path``, ``kind``, ``durationMs``, ``outcome``, ``error``, ``logLines``, ``timestamp``). Each log
line is printed under its function's ``[CONVEX Q(path)]`` prefix, failures with their error, and
with ``--success`` one line per successful execution with its duration. When the server goes away
the stream waits for it to come back, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from typing import Any

import aiohttp

from cli.discovery import add_location_options, remote_locations, require_server_url
from cli.function_logs import format_log_line, prefix
from cli.output import EXIT_OK, CliError, notice, one_line
from runtime.tokens.admin_key import read_admin_key

LOGS_ROUTE = "/api/_opencom/logs"
_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``logs`` command."""
    parser = commands.add_parser(
        "logs",
        help="stream function executions and their log lines from a running server",
        description=(
            "Stream the function executions of a running server as they happen: every log line under its "
            "function's [CONVEX Q(path)] prefix, every failure with its error, and with --success a line per "
            "successful execution. Runs until Ctrl-C."
        ),
    )
    parser.add_argument("--success", action="store_true", help="also print a line for every successful execution")
    parser.add_argument("--jsonl", action="store_true", help="print the raw events, one JSON object a line")
    parser.add_argument("--url", metavar="URL", help="the server (default: the one running on the data directory)")
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    _, data_dir = remote_locations(args)
    url = require_server_url(args, data_dir, "logs")
    admin_key = read_admin_key(data_dir) if data_dir is not None else None
    try:
        asyncio.run(_stream(url, admin_key, args.success, args.jsonl))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a log stream ends
    return EXIT_OK


async def _stream(url: str, admin_key: str | None, success: bool, jsonl: bool) -> None:
    headers = {"Authorization": f"Convex {admin_key}"} if admin_key else {}
    endpoint = url.replace("http", "ws", 1) + LOGS_ROUTE
    failures = 0
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.ws_connect(endpoint, headers=headers) as ws:
                    if failures:
                        notice("Reconnected to the server's log stream.")
                    else:
                        notice(f"Watching logs of {url} (Ctrl-C to stop)")
                    failures = 0
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        _print_event(json.loads(message.data), success, jsonl)
            except aiohttp.WSServerHandshakeError as error:
                if error.status in (401, 403):
                    raise _refused(error) from None
            except aiohttp.ClientError:
                pass
            if failures == 0:
                notice("Lost the server's log stream; waiting for it to come back...")
            await asyncio.sleep(_RETRY_DELAYS_S[min(failures, len(_RETRY_DELAYS_S) - 1)])
            failures += 1


def _refused(error: aiohttp.WSServerHandshakeError) -> CliError:
    return CliError(f"the server refused the log stream ({error.status}): it needs this data directory's admin key")


def _print_event(event: dict[str, Any], success: bool, jsonl: bool) -> None:
    if jsonl:
        print(json.dumps(event, ensure_ascii=False), flush=True)
        return
    kind, path = str(event.get("kind", "")), str(event.get("path") or event.get("function") or "?")
    when = _time(event.get("timestamp"))
    for line in event.get("logLines") or []:
        print(f"{when} {format_log_line(kind, path, str(line))}", flush=True)
    if event.get("outcome") == "failure":
        print(f"{when} {prefix(kind, path)} {one_line(str(event.get('error') or 'failed'))}", flush=True)
    elif success:
        duration = float(event.get("durationMs") or 0.0)
        shown = "<1 ms" if duration < 1.0 else f"{duration:.0f} ms"
        print(f"{when} {prefix(kind, path)} Function executed in {shown}", flush=True)


def _time(timestamp_ms: object) -> str:
    moment = (
        datetime.datetime.fromtimestamp(timestamp_ms / 1000.0)
        if isinstance(timestamp_ms, (int, float))
        else datetime.datetime.now()
    )
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
