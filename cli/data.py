"""``opencom data [TABLE]``: the tables of the database, or the documents of one table.

Like ``npx convex data``: without a table it lists every table with its document count; with one
it prints the newest documents as an aligned table (long cells are cut short) or as JSONL in
Convex encoded JSON, which is exact and what ``opencom import`` reads back. It reads the store
directly and read-only, so it works with or without a server running.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.discovery import add_location_options, resolve_locations
from cli.output import EXIT_OK, CliError, render_table
from cli.store_reader import StoreReader
from runtime.values.values import Value, display, to_json

DEFAULT_LIMIT = 100
MAX_CELL_WIDTH = 40


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the ``data`` command."""
    parser = commands.add_parser(
        "data",
        help="list tables, or print the documents of one table",
        description=(
            "Without TABLE, list every table with its number of documents. With TABLE, print its documents, "
            "newest first by default, as an aligned table or as JSONL (Convex encoded JSON, one document a line)."
        ),
    )
    parser.add_argument("table", nargs="?", metavar="TABLE", help="the table to print")
    parser.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"print at most N documents (default {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--order",
        choices=("asc", "desc"),
        default="desc",
        help="by _creationTime: asc (oldest first) or desc (default)",
    )
    parser.add_argument("--format", choices=("table", "jsonl"), default="table", help="output format (default: table)")
    add_location_options(parser)
    parser.set_defaults(handler=handle)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return number


def handle(args: argparse.Namespace) -> int:
    _, data_dir = resolve_locations(args)
    with StoreReader(data_dir) as store:
        if args.table is None:
            _print_tables(store)
            return EXIT_OK
        if args.table not in store.catalog.table_numbers:
            known = ", ".join(store.table_names()) or "none yet"
            raise CliError(f"there is no table named {args.table!r} (tables: {known})")
        documents = list(store.documents(args.table, descending=args.order == "desc", limit=args.limit))
        total = store.count(args.table)
    if args.format == "jsonl":
        for document in documents:
            print(json.dumps(to_json(document), ensure_ascii=False))
    elif documents:
        print(_document_table(documents))
        if total > len(documents):
            print(f"({len(documents)} of {total} documents; use --limit to see more)")
    else:
        print(f"table {args.table!r} has no documents")
    return EXIT_OK


def _print_tables(store: StoreReader) -> None:
    names = store.table_names()
    if not names:
        print("no tables yet")
        return
    print(render_table(["table", "documents"], [[name, str(store.count(name))] for name in names]))


def _document_table(documents: list[dict[str, Value]]) -> str:
    columns: dict[str, None] = {"_id": None, "_creationTime": None}
    for document in documents:
        columns.update(dict.fromkeys(document))
    rows = [[_cell(document[name]) if name in document else "" for name in columns] for document in documents]
    return render_table(list(columns), rows)


def _cell(value: Value) -> str:
    """A value on one short line: strings as they are, everything else as Convex prints it."""
    text = value if isinstance(value, str) else display(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"
