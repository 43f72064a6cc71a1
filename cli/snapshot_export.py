"""``opencom export --path FILE.zip``: the whole database as a snapshot ZIP (see ``cli.snapshot_format``).

The export reads one consistent snapshot of the store, read-only, so it can run while a server is
serving; the ZIP is written under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import time
import zipfile
from pathlib import Path
from typing import Any

from cli.discovery import add_location_options, resolve_locations
from cli.output import EXIT_OK, CliError, ProgressBar, UsageError, notice
from cli.snapshot_format import (
    DOCUMENTS_FILE,
    README,
    SCHEMA_FILE,
    STORAGE_TABLE,
    TABLES_FILE,
    ShapeInference,
    encoded_line,
)
from cli.store_reader import StoreReader
from runtime.functions.executor import STORAGE_DIR
from runtime.values.values import to_json


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``export`` command."""
    parser = commands.add_parser(
        "export",
        help="export every table to a snapshot ZIP",
        description=(
            "Export every table of the database to a ZIP file laid out like a Convex snapshot export "
            "(<table>/documents.jsonl, _tables/documents.jsonl, <table>/generated_schema.jsonl). Documents are "
            "written in Convex encoded JSON, so `opencom import` restores ids, creation times, int64, bytes, "
            "NaN and -0.0 exactly. Safe to run while a server is serving."
        ),
    )
    parser.add_argument(
        "--path", required=True, metavar="FILE.zip", help="where to write the snapshot (must not exist)"
    )
    parser.add_argument(
        "--include-file-storage",
        action="store_true",
        help="also export stored files (the _storage table and each file's bytes under _storage/)",
    )
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    _, data_dir = resolve_locations(args)
    target = Path(args.path)
    if target.suffix.lower() != ".zip":
        raise UsageError(f"--path {args.path}: the snapshot is a ZIP file; name it FILE.zip")
    if target.exists():
        raise CliError(f"{target} already exists; choose another --path")
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: no directory {target.parent}")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with StoreReader(data_dir) as store:
            tables = store.table_names()
            if args.include_file_storage and STORAGE_TABLE in store.catalog.table_numbers:
                tables.append(STORAGE_TABLE)
            counts = {table: store.count(table) for table in tables}
            bar = ProgressBar("Exporting", sum(counts.values()))
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(_member("README.md"), README)
                numbers = [{"name": name, "id": store.catalog.table_numbers[name]} for name in tables]
                archive.writestr(_member(TABLES_FILE), "".join(encoded_line(row) for row in numbers))
                for table in tables:
                    shape = ShapeInference()
                    with archive.open(_member(f"{table}/{DOCUMENTS_FILE}"), "w") as documents:
                        for document in store.documents(table):
                            documents.write(encoded_line(to_json(document)).encode())
                            shape.add(document)
                            bar.advance()
                    archive.writestr(_member(f"{table}/{SCHEMA_FILE}"), encoded_line(shape.to_json()))
                if args.include_file_storage:
                    _export_files(archive, store, data_dir / STORAGE_DIR)
            bar.finish()
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    total = sum(counts.values())
    notice(
        f"Exported {total} document{'s' * (total != 1)} from {len(tables)} table{'s' * (len(tables) != 1)} to {target}"
    )
    return EXIT_OK


def _member(name: str) -> zipfile.ZipInfo:
    """A ZIP entry stamped with the current time and compressed (``ZipFile.open`` would use 1980)."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _export_files(archive: zipfile.ZipFile, store: StoreReader, root: Path) -> None:
    """The bytes of every stored file as ``_storage/<id>`` (rows are exported as a table)."""
    for row in store.documents(STORAGE_TABLE):
        storage_id = str(row["_id"])
        try:
            archive.write(root / storage_id, f"{STORAGE_TABLE}/{storage_id}")
        except FileNotFoundError:
            # Deleted by a server since our snapshot was taken: its row's deletion will follow.
            notice(f"warning: stored file {storage_id} disappeared during the export; skipped")
