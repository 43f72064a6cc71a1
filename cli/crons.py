"""``opencom crons``: the app's cron jobs, with their next and last runs when the data directory has them.

Like the Convex dashboard's Crons page: one line per job declared in ``functions/crons.py`` (its
schedule in Convex's JSON shape and its function), plus what the store knows — when the job runs
next and how its last run went. ``--json`` prints the same as JSON for tools.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from cli.discovery import add_location_options, resolve_locations
from cli.in_process import load_app_or_fail
from cli.output import EXIT_OK
from cli.store_reader import StoreReader
from runtime.functions.app_loader import App
from runtime.functions.cron_runner import CRON_JOB_LOGS, CRON_JOBS, declared_jobs
from runtime.values.values import to_json


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``crons`` command."""
    parser = commands.add_parser(
        "crons",
        help="list the app's cron jobs with their next and last runs",
        description=(
            "List the cron jobs declared in functions/crons.py: name, schedule (UTC), function and arguments, "
            "with the next run and the last run's outcome as stored in the data directory (a server that has "
            "run the app keeps them there)."
        ),
    )
    add_location_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of one line per job")
    parser.set_defaults(handler=handle)


def cron_listing(app: App, store: StoreReader | None = None) -> list[dict[str, Any]]:
    """Every declared job, sorted by name, with ``nextTs``/``lastRun`` from ``store`` when it holds them."""
    stored: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    if store is not None:
        stored = {str(row["name"]): row for row in store.documents(CRON_JOBS)}
        for log in store.documents(CRON_JOB_LOGS):
            last[str(log["name"])] = log  # creation order: the newest wins
    listing = []
    for name, job in sorted(declared_jobs(app).items()):
        entry: dict[str, Any] = {
            "name": name,
            "schedule": job["schedule"],
            "function": job["function"],
            "args": job["args"],
        }
        if name in stored:
            entry["nextTs"] = stored[name]["nextTs"]
        if name in last:
            entry["lastRun"] = {"ts": last[name]["ts"], "status": last[name]["status"]}
        listing.append(to_json(entry))
    return listing


def handle(args: argparse.Namespace) -> int:
    app_dir, data_dir = resolve_locations(args)
    app = load_app_or_fail(app_dir)
    with StoreReader(data_dir) as store:
        listing = cron_listing(app, store)
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    if not listing:
        print("no cron jobs (declare them in functions/crons.py)")
    for entry in listing:
        line = f"{entry['name']}: {_schedule(entry['schedule'])} -> {entry['function']}"
        if "nextTs" in entry:
            line += f", next {_utc(entry['nextTs'])}"
        if "lastRun" in entry:
            line += f", last {_utc(entry['lastRun']['ts'])} {entry['lastRun']['status']['type']}"
        print(line)
    return EXIT_OK


def _schedule(schedule: dict[str, Any]) -> str:
    """``daily hourUTC=3 minuteUTC=15``: the shape, then its fields (whole numbers without ``.0``)."""
    fields = [
        f"{key}={int(value) if isinstance(value, float) and value.is_integer() else value}"
        for key, value in schedule.items()
        if key != "type"
    ]
    return " ".join([schedule["type"], *fields])


def _utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000.0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
