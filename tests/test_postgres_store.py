"""The PostgreSQL store: moving deployments between stores, and one committer per database."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from runtime import store
from runtime.database import Database
from runtime.store import postgres
from tests.store_fixtures import Stores
from tests.test_cli_snapshot import EXOTIC, cli, fill

POSTGRES = pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)


def members(snapshot: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(snapshot) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@POSTGRES
def test_export_import_round_trips_sqlite_to_postgres_and_back_byte_for_byte(tmp_path: Path, store_kind: Stores) -> None:
    sqlite_source, pg_data, sqlite_target = tmp_path / "a", tmp_path / "pg", tmp_path / "b"
    url = store_kind.url_for(pg_data)
    assert url is not None
    fill(sqlite_source)
    assert cli(sqlite_source, "run", "things:add", json.dumps({"value": EXOTIC}))[0] == 0
    first, second, third = (tmp_path / f"{n}.zip" for n in ("first", "second", "third"))
    assert cli(sqlite_source, "export", "--path", first)[0] == 0

    code, _, err = cli(pg_data, "import", first, "--database", url)
    assert code == 0, err
    code, _, err = cli(pg_data, "export", "--path", second, "--database", url)
    assert code == 0, err
    assert "Exported 6 documents from 2 tables" in err
    assert not (pg_data / "opencom.sqlite3").exists()  # the rows went to PostgreSQL

    assert cli(sqlite_target, "import", second)[0] == 0
    assert cli(sqlite_target, "export", "--path", third)[0] == 0
    assert members(first) == members(second) == members(third)


@POSTGRES
async def test_a_second_committer_on_the_same_database_is_refused(
    tmp_path: Path, store_kind: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_kind.url_for(tmp_path / "one")
    monkeypatch.setattr(postgres, "LOCK_WAIT_SECONDS", 0.2)
    first = Database(tmp_path / "one", database_url=url)
    try:
        with pytest.raises(postgres.CommitterLockError, match="another opencom server"):
            Database(tmp_path / "two", database_url=url)
    finally:
        await first.close()
    Database(tmp_path / "three", database_url=url)._writer_connection.close()  # the lock went with the first


def test_only_postgresql_urls_select_another_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(store.DATABASE_URL_VARIABLE, raising=False)
    assert store.database_url() is None
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, "postgresql://u@h/d")
    assert store.database_url() == "postgresql://u@h/d"
    with pytest.raises(ValueError, match="unsupported database URL"):
        store.database_url("mysql://u@h/d")


@POSTGRES
async def test_a_failing_postgresql_store_raises_what_the_runners_treat_as_a_store_failure(
    tmp_path: Path, store_kind: Stores
) -> None:
    database = Database(tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    database._reader_connection.raw.close()  # the connection is lost
    try:
        with pytest.raises(sqlite3.Error, match="PostgreSQL"):
            database.count_documents("_scheduled_functions")
    finally:
        await database.close()


@POSTGRES
async def test_a_lost_committer_connection_fails_mutations_instead_of_hanging(tmp_path: Path, store_kind: Stores) -> None:
    database = Database(tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    database._writer_connection.raw.close()
    try:
        with pytest.raises(sqlite3.Error, match="PostgreSQL"):
            await database.mutate(lambda transaction: transaction.insert("items", {"n": 1}))
    finally:
        await database.close()
