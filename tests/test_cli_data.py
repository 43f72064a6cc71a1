"""``opencom data``: tables with their counts, and one table's documents as a table or JSONL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_harness import CLI_APP, opencom


def cli(data: Path, *args: str) -> tuple[int, str, str]:
    result = opencom(*args, "--app", CLI_APP, "--data", data)
    return result.returncode, result.stdout, result.stderr


def load(data: Path, *bodies: str) -> None:
    """Messages with these bodies, oldest first, loaded with one import."""
    data.mkdir(parents=True, exist_ok=True)
    source = data / "messages.jsonl"  # the data directory is this test's own
    source.write_text("".join(json.dumps({"author": "ada", "body": body}) + "\n" for body in bodies))
    code, _, err = cli(data, "import", source, "--append")
    assert code == 0, err


def test_without_a_table_every_table_is_listed_with_its_count(tmp_path: Path) -> None:
    load(tmp_path, "one", "two")
    code, out, _ = cli(tmp_path, "data")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["table", "documents"]
    assert ["messages", "2"] in rows and ["things", "0"] in rows
    assert not any(row[0].startswith("_") for row in rows[2:])  # system tables stay hidden


def test_a_table_prints_aligned_newest_first(tmp_path: Path) -> None:
    load(tmp_path, "first", "second", "third")
    code, out, _ = cli(tmp_path, "data", "messages")
    assert code == 0
    header, _rule, *rows = out.splitlines()
    assert header.split() == ["_id", "_creationTime", "author", "body"]
    assert [row.split()[-1] for row in rows] == ["third", "second", "first"]
    body_column = header.index("body")
    assert all(row[body_column:].strip() in ("first", "second", "third") for row in rows)


def test_limit_and_order(tmp_path: Path) -> None:
    load(tmp_path, "first", "second", "third")
    code, out, _ = cli(tmp_path, "data", "messages", "--limit", "2", "--order", "asc", "--format", "jsonl")
    assert code == 0
    assert [json.loads(line)["body"] for line in out.splitlines()] == ["first", "second"]
    code, out, _ = cli(tmp_path, "data", "messages", "--limit", "2")
    assert out.splitlines()[-1] == "(2 of 3 documents; use --limit to see more)"


def test_an_unknown_table_is_an_error_naming_the_tables(tmp_path: Path) -> None:
    load(tmp_path, "one")
    code, _, err = cli(tmp_path, "data", "nope")
    assert code == 1
    assert err == "error: there is no table named 'nope' (tables: messages, things)\n"


def test_a_bad_limit_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli(tmp_path, "data", "messages", "--limit", "0")
    assert code == 2 and "--limit" in err and err.count("\n") == 1
