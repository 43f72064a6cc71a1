"""The PostgreSQL store: moving deployments between stores, and one committer per database."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest

from runtime import store
from runtime.database.database import Database
from runtime.database.transaction import Transaction
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
async def test_two_databases_on_one_postgresql_take_turns_and_share_one_timestamp_order(
    tmp_path: Path, store_kind: Stores
) -> None:
    url = store_kind.url_for(tmp_path / "one")
    first, second = Database(tmp_path / "one", database_url=url), Database(tmp_path / "two", database_url=url)
    try:
        stamps = []
        for n in range(6):
            database = (first, second)[n % 2]
            stamps.append((await database.mutate(lambda transaction, n=n: transaction.insert("items", {"n": n}))).ts)
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert first.count_documents("items") == second.count_documents("items") == 6
    finally:
        await first.close()
        await second.close()


def test_only_postgresql_urls_select_another_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(store.DATABASE_URL_VARIABLE, raising=False)
    assert store.database_url() is None
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, "postgresql://u@h/d")
    assert store.database_url() == "postgresql://u@h/d"
    with pytest.raises(ValueError, match="unsupported database URL"):
        store.database_url("mysql://u@h/d")


def lose(connection: postgres.PgConnection) -> None:
    """Cut a connection and make PostgreSQL unreachable for it (a closed port)."""
    connection.raw.close()
    connection.url = "postgresql://opencom@127.0.0.1:1/unreachable"


@POSTGRES
async def test_a_failing_postgresql_store_raises_what_the_runners_treat_as_a_store_failure(
    tmp_path: Path, store_kind: Stores
) -> None:
    database = Database(tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    lose(database._reader_connection)
    try:
        with pytest.raises(sqlite3.Error, match="PostgreSQL"):
            database.count_documents("_scheduled_functions")
    finally:
        await database.close()


@POSTGRES
async def test_a_lost_committer_connection_fails_mutations_instead_of_hanging(tmp_path: Path, store_kind: Stores) -> None:
    database = Database(tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    lose(database._writer_connection)
    try:
        with pytest.raises(sqlite3.Error, match="PostgreSQL"):
            await database.mutate(lambda transaction: transaction.insert("items", {"n": 1}))
    finally:
        await database.close()


@POSTGRES
async def test_connections_cut_by_postgresql_are_reopened_and_nothing_is_left_half_done(
    tmp_path: Path, store_kind: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_kind.url_for(tmp_path / "data")
    assert url is not None
    monkeypatch.setattr(postgres, "RECONNECT_INTERVAL_S", 0.0)
    database = Database(tmp_path / "data", database_url=url)
    try:
        await database.mutate(lambda transaction: transaction.insert("items", {"n": 1}))
        with psycopg.connect(url, autocommit=True) as admin:  # what a PostgreSQL restart does to sessions
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(sqlite3.Error, match="PostgreSQL connection lost"):
            await database.mutate(lambda transaction: transaction.insert("items", {"n": 2}))
        with pytest.raises(sqlite3.Error, match="PostgreSQL connection lost"):
            database.count_documents("items")
        await database.mutate(lambda transaction: transaction.insert("items", {"n": 3}))
        assert database.count_documents("items") == 2
    finally:
        await database.close()


@POSTGRES
async def test_a_mutation_that_outlives_its_lost_connection_cannot_write_outside_its_transaction(
    tmp_path: Path, store_kind: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_kind.url_for(tmp_path / "data")
    assert url is not None
    monkeypatch.setattr(postgres, "RECONNECT_INTERVAL_S", 0.0)
    database = Database(tmp_path / "data", database_url=url)
    await database.mutate(lambda transaction: transaction.insert("items", {"n": 0}))

    def body(transaction: Transaction) -> None:
        transaction.insert("items", {"n": 1})
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (database._writer_connection.raw.info.backend_pid,))
        with suppress(sqlite3.Error):  # user code that swallows the failure and writes on
            transaction.insert("items", {"n": 2})
        transaction.insert("items", {"n": 3})

    try:
        with pytest.raises(sqlite3.Error, match="connection lost"):
            await database.mutate(body)
        await database.mutate(lambda transaction: transaction.insert("items", {"n": 4}))
        assert database.count_documents("items") == 2
    finally:
        await database.close()
