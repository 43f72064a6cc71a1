"""``opencom import FILE``: load a snapshot ZIP or one table's ``.jsonl``/``.json``/``.csv``.

The whole file is read and decoded first, then handed to ``Database.import_documents``, which
checks every document (values, ids, schema) before writing any and writes them all in one
transaction: a bad file leaves the database exactly as it was. Documents keep their ``_id`` and
``_creationTime`` when they have them. Stored files in a snapshot (``_storage/``) are checked
against their recorded sha256 first and put in place before the transaction, so every committed
``_storage`` row has its file; if the import fails they are removed again. Imports write the store
directly, so they need the data directory to themselves: with a server running, stop it first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.discovery import add_location_options, find_server, resolve_locations
from cli.in_process import open_executor
from cli.output import EXIT_OK, CliError, ProgressBar, UsageError, notice
from cli.snapshot_format import (
    DOCUMENTS_FILE,
    STORAGE_TABLE,
    TABLES_FILE,
    SnapshotFormatError,
    read_csv,
    read_json_array,
    read_jsonl,
    table_numbers,
)
from runtime.database.document_import import IMPORTABLE_SYSTEM_TABLES, ImportMode, ImportRejectedError
from runtime.functions.executor import Executor
from runtime.values.values import Value

TABLE_FORMATS = (".jsonl", ".json", ".csv")


@dataclass
class ImportSource:
    """What a file holds: documents by table, the table numbers it records, stored files by id."""

    tables: dict[str, list[dict[str, Value]]]
    numbers: dict[str, int] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``import`` command."""
    parser = commands.add_parser(
        "import",
        help="import a snapshot ZIP, or one table from .jsonl/.json/.csv",
        description=(
            "Import a snapshot ZIP written by `opencom export` (every table in it, and stored files if it has "
            "them), or one table from a .jsonl file (one Convex encoded JSON document a line), a .json file (an "
            "array of them) or a .csv file (a header row; cells that read as JSON numbers, true, false or null take "
            "that value, numbers as float64; an empty cell is a missing field). Documents keep their _id and "
            "_creationTime when they have them. Everything is checked before anything is written, and written in "
            "one transaction. Tables that already hold documents are refused unless --append or --replace says "
            "what to do with them. Stop any server on the data directory first."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="a .zip snapshot, or a .jsonl, .json or .csv table file")
    parser.add_argument(
        "--table", metavar="TABLE", help="the table to import into (table files; default: the file name) or from (ZIP)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_const", dest="mode", const="append", help="add to existing documents")
    mode.add_argument(
        "--replace", action="store_const", dest="mode", const="replace", help="delete the tables' documents first"
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle, mode="require_empty")


def handle(args: argparse.Namespace) -> int:
    app_dir, data_dir = resolve_locations(args)
    path = Path(args.file)
    suffix = path.suffix.lower()
    if suffix != ".zip" and suffix not in TABLE_FORMATS:
        raise UsageError(f"{args.file}: expected a .zip snapshot or a {', '.join(TABLE_FORMATS)} table file")
    if not path.is_file():
        raise CliError(f"{args.file}: no such file")
    try:
        if suffix == ".zip":
            source = read_snapshot(path, args.table)
        else:
            source = ImportSource({args.table or path.stem: read_table_file(path, suffix)})
        check_files(source)
    except SnapshotFormatError as error:
        raise CliError(f"cannot import {path.name}: {error}") from None
    server = find_server(data_dir)
    if server is not None:
        raise CliError(f"a server (pid {server.pid}, {server.url}) is running on {data_dir}: stop it before importing")
    counts = asyncio.run(_import(app_dir, data_dir, source, args.mode))
    total = sum(counts.values())
    summary = ", ".join(f"{name} ({count})" for name, count in counts.items())
    notice(
        f"Imported {total} document{'s' * (total != 1)} into {len(counts)} table{'s' * (len(counts) != 1)}: {summary}"
    )
    return EXIT_OK


async def _import(app_dir: Path, data_dir: Path, source: ImportSource, mode: ImportMode) -> dict[str, int]:
    async with open_executor(app_dir, data_dir, "import") as executor:
        total = sum(len(documents) for documents in source.tables.values())
        notice(f"Checking and writing {total} documents in one transaction...")
        placed = _place_files(executor, source.files)
        try:
            result = await executor.database.import_documents(source.tables, mode=mode, table_numbers=source.numbers)
        except BaseException as error:
            for file in placed:
                file.unlink(missing_ok=True)
            if isinstance(error, ImportRejectedError):
                raise CliError(f"import refused, nothing was written: {error}") from None
            raise
        return result.value


def _place_files(executor: Executor, files: dict[str, bytes]) -> list[Path]:
    """Write the snapshot's stored files where file storage keeps them; returns those that are new."""
    placed = []
    for storage_id, data in files.items():
        target = executor.file_storage.path(storage_id)
        if target.exists():
            continue  # the same id holds the same bytes: both come from one stored file
        temporary = target.with_name(f".{storage_id}.import")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        placed.append(target)
    return placed


def check_files(source: ImportSource) -> None:
    """Every ``_storage`` row must come with its file, and the file must match its sha256 and size."""
    for row in source.tables.get(STORAGE_TABLE, []):
        storage_id = row.get("_id")
        data = source.files.get(storage_id) if isinstance(storage_id, str) else None
        if data is None:
            raise SnapshotFormatError(f"{STORAGE_TABLE}/{storage_id}: the stored file is missing")
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        if row.get("sha256") != digest or row.get("size") != float(len(data)):
            raise SnapshotFormatError(f"{STORAGE_TABLE}/{storage_id}: the file does not match its sha256 and size")


def read_table_file(path: Path, suffix: str) -> list[dict[str, Value]]:
    """The documents of one ``.jsonl``, ``.json`` or ``.csv`` table file."""
    text = _text(path.read_bytes(), path.name)
    if suffix == ".jsonl":
        return _with_progress(read_jsonl(text, path.name), text.count("\n") + 1, f"Reading {path.name}")
    if suffix == ".json":
        return read_json_array(text, path.name)
    return read_csv(text, path.name)


def read_snapshot(path: Path, only: str | None) -> ImportSource:
    """The tables of a snapshot ZIP (just ``only`` if given), its table numbers and its stored files."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SnapshotFormatError("not a ZIP file") from None
    with archive:
        names = set(archive.namelist())
        numbers: dict[str, int] = {}
        if TABLES_FILE in names:
            numbers = table_numbers(read_jsonl(_text(archive.read(TABLES_FILE), TABLES_FILE), TABLES_FILE), TABLES_FILE)
        found = sorted(
            name[: -len(DOCUMENTS_FILE) - 1]
            for name in names
            if name.endswith(f"/{DOCUMENTS_FILE}") and name.count("/") == 1 and name != TABLES_FILE
        )
        found = [table for table in found if not table.startswith("_") or table in IMPORTABLE_SYSTEM_TABLES]
        if only is not None:
            if only not in found:
                raise SnapshotFormatError(f"it has no table {only!r} (tables: {', '.join(found) or 'none'})")
            found = [only]
        if not found and not numbers:
            raise SnapshotFormatError(f"no <table>/{DOCUMENTS_FILE} inside: not a snapshot")
        source = ImportSource({}, {})
        for table in found:
            member = f"{table}/{DOCUMENTS_FILE}"
            text = _text(archive.read(member), member)
            source.tables[table] = _with_progress(read_jsonl(text, member), text.count("\n"), f"Reading {table}")
        if only is None:
            # Tables exported empty still come back, under their own numbers.
            for table in numbers:
                if not table.startswith("_"):
                    source.tables.setdefault(table, [])
        source.numbers = {name: number for name, number in numbers.items() if name in source.tables}
        for row in source.tables.get(STORAGE_TABLE, []):
            member = f"{STORAGE_TABLE}/{row.get('_id')}"
            if member in names:
                source.files[str(row["_id"])] = archive.read(member)
        return source


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SnapshotFormatError(f"{where}: not UTF-8 text (byte {error.start})") from None


def _with_progress(documents: Any, expected: int, label: str) -> list[dict[str, Value]]:
    bar = ProgressBar(label, expected)
    collected = []
    for document in documents:
        collected.append(document)
        bar.advance()
    bar.finish()
    return collected
