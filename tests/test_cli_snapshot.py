"""``opencom export`` and ``opencom import``: snapshot ZIPs and single-table files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.cli_harness import CLI_APP, opencom

# int64 extremes, bytes, NaN, infinities and -0.0: what plain JSON would lose.
EXOTIC = {
    "small": {"$integer": "AAAAAAAAAIA="},  # -2**63
    "big": {"$integer": "/////////38="},  # 2**63 - 1
    "raw": {"$bytes": "AP+AfwE="},
    "nan": {"$float": "AAAAAAAA+H8="},
    "minus_zero": {"$float": "AAAAAAAAAIA="},
    "infinity": {"$float": "AAAAAAAA8H8="},
    "nested": [{"deep": {"$integer": "AQAAAAAAAAA="}}, 1.5, None, True, "text\nwith\tcontrol"],
}


def cli(data: Path, *args: str | Path) -> tuple[int, str, str]:
    result = opencom(*args, "--app", CLI_APP, "--data", data)
    return result.returncode, result.stdout, result.stderr


def dump(data: Path, table: str) -> list[dict[str, object]]:
    code, out, err = cli(data, "data", table, "--format", "jsonl", "--order", "asc", "--limit", "1000")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def fill(data: Path) -> None:
    """Three things (one exotic) and two messages, each table loaded with one import."""
    rows = {
        "things": [{"value": value} for value in (EXOTIC, {"$integer": "KgAAAAAAAAA="}, "plain")],
        "messages": [{"author": "ada", "body": body} for body in ("one", "two")],
    }
    for table, documents in rows.items():
        data.mkdir(parents=True, exist_ok=True)
        source = data / f"{table}.jsonl"  # the data directory is this test's own
        source.write_text("".join(json.dumps(document) + "\n" for document in documents))
        code, _, err = cli(data, "import", source)
        assert code == 0, err
        source.unlink()


def test_export_then_import_keeps_every_document_exactly(tmp_path: Path) -> None:
    source, target, snapshot = tmp_path / "source", tmp_path / "target", tmp_path / "snapshot.zip"
    fill(source)
    code, _, err = cli(source, "run", "things:add", json.dumps({"value": EXOTIC}))  # and one written by a function
    assert code == 0, err
    code, _, err = cli(source, "export", "--path", snapshot)
    assert code == 0, err
    assert "Exported 6 documents from 2 tables" in err

    code, _, err = cli(target, "import", snapshot)
    assert code == 0, err
    for table in ("things", "messages"):
        assert dump(target, table) == dump(source, table)  # ids, creation times and values, bit for bit
    things = dump(target, "things")
    assert things[0]["value"] == EXOTIC and things[3]["value"] == EXOTIC

    # New documents still get later creation times than the imported ones.
    cli(target, "run", "messages:send", '{"author": "b", "body": "after"}')
    times = [message["_creationTime"] for message in dump(target, "messages")]
    assert times == sorted(times) and len(set(times)) == 3


def test_the_snapshot_is_laid_out_like_a_convex_export(tmp_path: Path) -> None:
    fill(tmp_path / "data")
    snapshot = tmp_path / "snapshot.zip"
    cli(tmp_path / "data", "export", "--path", snapshot)
    with zipfile.ZipFile(snapshot) as archive:
        names = set(archive.namelist())
        assert {"_tables/documents.jsonl", "messages/documents.jsonl", "things/documents.jsonl"} <= names
        assert {"messages/generated_schema.jsonl", "things/generated_schema.jsonl"} <= names
        tables = [json.loads(line) for line in archive.read("_tables/documents.jsonl").decode().splitlines()]
        assert {row["name"] for row in tables} == {"messages", "things"}
        shape = json.loads(archive.read("messages/generated_schema.jsonl"))
        assert shape["fields"]["body"] == {"types": ["string"], "optional": False}
        assert len(archive.read("things/documents.jsonl").decode().splitlines()) == 3


def test_a_bad_file_leaves_the_database_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fill(data)
    before = dump(data, "messages")
    bad = tmp_path / "messages.jsonl"
    bad.write_text('{"author": "x", "body": "fine"}\n{"author": "y", "body": "fine too"}\n{"author": "z", "body": 7}\n')
    code, _, err = cli(data, "import", bad, "--append")
    assert code == 1
    error = err.splitlines()[-1]
    assert error.startswith("error: import refused, nothing was written")
    assert "document 3" in error and "Path: .body" in error
    assert dump(data, "messages") == before


def test_malformed_json_is_rejected_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "messages.jsonl"
    bad.write_text('{"author": "x", "body": "fine"}\n{"author": \n')
    code, _, err = cli(tmp_path / "data", "import", bad)
    assert code == 1 and "messages.jsonl line 2: invalid JSON" in err
    assert cli(tmp_path / "data", "data")[1] == "no tables yet\n"


def test_tables_with_documents_need_append_or_replace(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fill(data)
    table = tmp_path / "messages.jsonl"
    table.write_text('{"author": "new", "body": "imported"}\n')
    code, _, err = cli(data, "import", table)
    assert code == 1 and "is not empty (2 documents)" in err

    code, _, err = cli(data, "import", table, "--append")
    assert code == 0, err
    assert [message["body"] for message in dump(data, "messages")] == ["one", "two", "imported"]

    code, _, err = cli(data, "import", table, "--replace")
    assert code == 0, err
    assert [message["body"] for message in dump(data, "messages")] == ["imported"]


def test_csv_and_json_tables_import_into_the_named_table(tmp_path: Path) -> None:
    data = tmp_path / "data"
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("name,age,member\nada,36,true\nalan,,false\n")
    code, _, err = cli(data, "import", csv_file)
    assert code == 0, err
    people = [{key: value for key, value in row.items() if not key.startswith("_")} for row in dump(data, "people")]
    assert people == [{"name": "ada", "age": 36.0, "member": True}, {"name": "alan", "member": False}]

    json_file = tmp_path / "export.json"
    json_file.write_text(json.dumps([{"value": {"$integer": "AQAAAAAAAAA="}}]))
    code, _, err = cli(data, "import", json_file, "--table", "things")
    assert code == 0, err
    assert dump(data, "things")[0]["value"] == {"$integer": "AQAAAAAAAAA="}


def test_export_refuses_to_overwrite(tmp_path: Path) -> None:
    existing = tmp_path / "taken.zip"
    existing.write_bytes(b"keep me")
    code, _, err = cli(tmp_path / "data", "export", "--path", existing)
    assert code == 1 and "already exists" in err
    assert existing.read_bytes() == b"keep me"


def test_an_unknown_file_type_is_a_usage_error(tmp_path: Path) -> None:
    other = tmp_path / "data.xml"
    other.write_text("<x/>")
    code, _, err = cli(tmp_path / "data", "import", other)
    assert code == 2 and "expected a .zip snapshot" in err


def test_stored_files_travel_with_include_file_storage(tmp_path: Path) -> None:
    source, target, snapshot = tmp_path / "source", tmp_path / "target", tmp_path / "files.zip"
    code, out, err = cli(source, "run", "files:upload", '{"text": "file contents"}')
    assert code == 0, err
    storage_id = json.loads(out)
    assert cli(source, "export", "--path", snapshot, "--include-file-storage")[0] == 0
    with zipfile.ZipFile(snapshot) as archive:
        assert archive.read(f"_storage/{storage_id}") == b"file contents"

    code, _, err = cli(target, "import", snapshot)
    assert code == 0, err
    code, out, err = cli(target, "run", "files:read", json.dumps({"id": storage_id}))
    assert code == 0, err
    assert json.loads(out) == "file contents"


def test_a_stored_file_that_does_not_match_its_row_is_rejected(tmp_path: Path) -> None:
    source, snapshot, tampered = tmp_path / "source", tmp_path / "files.zip", tmp_path / "tampered.zip"
    storage_id = json.loads(cli(source, "run", "files:upload", '{"text": "original"}')[1])
    cli(source, "export", "--path", snapshot, "--include-file-storage")
    with zipfile.ZipFile(snapshot) as original, zipfile.ZipFile(tampered, "w") as copy:
        for name in original.namelist():
            copy.writestr(name, b"forged!!" if name == f"_storage/{storage_id}" else original.read(name))
    code, _, err = cli(tmp_path / "target", "import", tampered)
    assert code == 1 and "does not match its sha256" in err
    assert not (tmp_path / "target" / "storage" / storage_id).exists()
