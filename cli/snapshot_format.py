"""The snapshot file formats ``opencom export`` writes and ``opencom import`` reads.

A snapshot is a ZIP laid out like a Convex export::

    README.md                      what this is
    _tables/documents.jsonl        {"name": "messages", "id": 10001} per table (ids encode the number)
    <table>/documents.jsonl        one document a line
    <table>/generated_schema.jsonl one line: the shape the documents were seen to have
    _storage/documents.jsonl       stored files' metadata, and _storage/<id> their bytes

Unlike Convex, documents are written in Convex *encoded* JSON (``$integer``, ``$float``,
``$bytes``), so int64, bytes, NaN and -0.0 survive a round trip exactly. A single table can also be
imported from ``.jsonl`` (one encoded-JSON object a line), ``.json`` (an array of them) or ``.csv``
(a header row; cells that read as JSON numbers or true/false/null take that value, numbers as
float64; every other cell is a string; an empty cell is a missing field).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runtime.values.errors import ConvexValueError
from runtime.values.values import Value, from_json, type_name

TABLES_FILE = "_tables/documents.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
SCHEMA_FILE = "generated_schema.jsonl"
STORAGE_TABLE = "_storage"
README = """\
# opencom snapshot

Exported by `opencom export`; load it with `opencom import FILE.zip`.

- `_tables/documents.jsonl`: every table with its number (document ids encode it).
- `<table>/documents.jsonl`: the documents, one a line, in Convex encoded JSON
  (`{"$integer": ...}` for int64, `{"$bytes": ...}` for bytes, `{"$float": ...}` for NaN, ±Infinity, -0.0).
- `<table>/generated_schema.jsonl`: the field types seen in the documents (informational).
- `_storage/`: stored files, when there are any.
"""


# Type names as validators spell them (``v.int64()``, ``v.float64()``), not as JavaScript does.
_VALIDATOR_NAMES = {"bigint": "int64", "number": "float64"}


class SnapshotFormatError(Exception):
    """An input file that is not a valid snapshot or table file; the message names where."""


@dataclass
class ShapeInference:
    """Which types each field of a table's documents was seen with, and whether it was always there."""

    documents: int = 0
    types: dict[str, set[str]] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def add(self, document: dict[str, Value]) -> None:
        self.documents += 1
        for name, value in document.items():
            kind = type_name(value)
            self.types.setdefault(name, set()).add(_VALIDATOR_NAMES.get(kind, kind))
            self.present[name] = self.present.get(name, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "fields": {
                name: {"types": sorted(kinds), "optional": self.present[name] < self.documents}
                for name, kinds in self.types.items()
            },
        }


def encoded_line(data: Any) -> str:
    """One JSONL line (compact, UTF-8 kept readable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def read_jsonl(text: str, where: str) -> Iterator[dict[str, Value]]:
    """Decode every non-blank line of a JSONL file of encoded-JSON objects."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield _decode_object(line, f"{where} line {number}")


def read_json_array(text: str, where: str) -> list[dict[str, Value]]:
    """Decode a ``.json`` table file: one array of encoded-JSON objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SnapshotFormatError(f"{where}: invalid JSON: {error.msg} (line {error.lineno})") from None
    if not isinstance(data, list):
        raise SnapshotFormatError(f"{where}: expected a JSON array of documents, got {type(data).__name__}")
    return [_to_document(item, f"{where} item {position}") for position, item in enumerate(data, start=1)]


def read_csv(text: str, where: str) -> list[dict[str, Value]]:
    """Decode a ``.csv`` table file (see the module docstring for how cells become values)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise SnapshotFormatError(f"{where}: empty CSV file (expected a header row)")
    documents = []
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise SnapshotFormatError(f"{where} line {number}: {len(row)} cells for {len(header)} columns")
        documents.append({name: _csv_cell(cell) for name, cell in zip(header, row, strict=True) if cell != ""})
    return documents


def _csv_cell(cell: str) -> Value:
    if cell in ("true", "false", "null"):
        return json.loads(cell)
    try:
        return float(json.loads(cell)) if _looks_numeric(cell) else cell
    except (json.JSONDecodeError, ValueError):
        return cell


def _looks_numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or (cell[0] == "-" and cell[1:2].isdigit()))


def _decode_object(line: str, where: str) -> dict[str, Value]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise SnapshotFormatError(f"{where}: invalid JSON: {error.msg}") from None
    return _to_document(data, where)


def _to_document(data: Any, where: str) -> dict[str, Value]:
    try:
        value = from_json(data)
    except ConvexValueError as error:
        raise SnapshotFormatError(f"{where}: {error}") from None
    if not isinstance(value, dict):
        raise SnapshotFormatError(f"{where}: expected a JSON object (a document), got {type_name(value)}")
    return value


def table_numbers(lines: Iterable[dict[str, Value]], where: str) -> dict[str, int]:
    """``_tables/documents.jsonl`` rows as ``{name: number}``."""
    numbers = {}
    for row in lines:
        name, number = row.get("name"), row.get("id")
        if not isinstance(name, str) or not isinstance(number, (int, float)) or isinstance(number, bool):
            raise SnapshotFormatError(f'{where}: expected rows like {{"name": "messages", "id": 10001}}, got {row!r}')
        numbers[name] = int(number)
    return numbers
