"""``opencom check``: is a data directory whole? Its WAL, its database pages, its stored files.

Nothing in the data directory changes: the WAL is read as bytes, and SQLite's integrity check runs
on a copy of the database and its WAL (opening the original would replay and later checkpoint the
WAL, discarding the very frames being reported). The data directory's lock is held meanwhile, so
no server is writing under the check. One line per finding; exit 0 when all is well, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from cli.data_lock import locked
from cli.discovery import add_location_options, resolve_locations
from cli.output import EXIT_FAILURE, EXIT_OK, CliError
from runtime.database.database import DATABASE_FILE, wal_path
from runtime.functions.executor import STORAGE_DIR
from runtime.store.catalog import SYSTEM_TABLE_NUMBERS
from runtime.store.sqlite import decode_document
from runtime.store.wal_check import inspect_wal

MAX_PROBLEMS_SHOWN = 20


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``check`` command."""
    parser = commands.add_parser(
        "check",
        help="check the data directory: write-ahead log, database pages, stored files",
        description=(
            "Check a data directory without changing it: frames of the write-ahead log SQLite would drop "
            "(a cut or damaged WAL), SQLite's integrity check of every database page, and that every stored "
            "file is present with its recorded size. Exits 1 if anything is wrong. Stop the server first."
        ),
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    _, data_dir = resolve_locations(args)
    database = data_dir / DATABASE_FILE
    if not database.exists():
        raise CliError(f"no database in {data_dir}")
    with locked(data_dir, "check the data directory"):
        problems = _check_wal(database) + _check_pages_and_files(database, data_dir / STORAGE_DIR)
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"problem: {problem}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    if problems:
        return EXIT_FAILURE
    print(f"ok: {data_dir} is consistent")
    return EXIT_OK


def _check_wal(database: Path) -> list[str]:
    report = inspect_wal(wal_path(database))
    if report is None:
        print("write-ahead log: none to replay")
        return []
    print(f"write-ahead log: {report.replayed_frames} frame(s) replayable, {report.dropped_frames} dropped")
    if not report.damaged:
        return []
    return [f"write-ahead log: {report.dropped_frames} frame(s) will be dropped: {report.problem}"]


def _check_pages_and_files(database: Path, storage: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="opencom-check-") as scratch:
        copy = Path(scratch) / DATABASE_FILE
        shutil.copyfile(database, copy)
        if wal_path(database).exists():
            shutil.copyfile(wal_path(database), wal_path(copy))
        try:
            connection = sqlite3.connect(copy)
            try:
                findings = [row[0] for row in connection.execute("PRAGMA integrity_check")]
                bodies = connection.execute(
                    "SELECT body FROM documents WHERE table_number = ?", (SYSTEM_TABLE_NUMBERS["_storage"],)
                ).fetchall()
            finally:
                connection.close()
        except sqlite3.DatabaseError as error:
            return [f"database: cannot be read: {error}"]
    problems = [] if findings == ["ok"] else [f"database: {finding}" for finding in findings]
    print(f"database pages: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    for (body,) in bodies:
        row = decode_document(body)
        path = storage / str(row["_id"])
        if not path.exists():
            problems.append(f"stored file {row['_id']}: missing")
        elif path.stat().st_size != row["size"]:
            problems.append(f"stored file {row['_id']}: {path.stat().st_size} bytes, {int(row['size'])} recorded")
    print(f"stored files: {len(bodies)} checked")
    return problems
