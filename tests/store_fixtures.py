"""Run database tests on both stores: ``store_kind`` gives each data directory its store.

A module opts in with ``pytestmark = BOTH_STORES``; its tests then run once on SQLite and once on
a fresh PostgreSQL database per data directory (created for the test, dropped after). PostgreSQL
comes from ``OPENCOM_TEST_POSTGRES_URL`` (any database on the server; the test databases are
created beside it). Without it the PostgreSQL runs skip with one line saying so, except under
``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

POSTGRES_URL_VARIABLE = "OPENCOM_TEST_POSTGRES_URL"
DEFAULT_STORE_VARIABLE = "OPENCOM_TEST_STORE"
BOTH_STORES = pytest.mark.parametrize("store_kind", ["sqlite", "postgres"], indirect=True)


def postgres_admin_url() -> str:
    """The test PostgreSQL server's URL; skips (fails on CI) when it is not set or not reachable."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    problem = None
    if not url:
        problem = f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}=postgresql://user@host:port/db"
    else:
        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error as error:
            problem = f"PostgreSQL at {POSTGRES_URL_VARIABLE} is not reachable ({error}); set it to a reachable server"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    assert url is not None
    return url


class Stores:
    """Which store a test's data directories use, and the PostgreSQL databases it made for them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._admin_url = postgres_admin_url() if kind == "postgres" else None
        self._urls: dict[Path, str] = {}

    def url_for(self, data_dir: Path) -> str | None:
        """The database URL for ``data_dir`` (None on SQLite); the same directory gets the same database."""
        if self._admin_url is None:
            return None
        if data_dir not in self._urls:
            name = f"opencom_test_{secrets.token_hex(6)}"
            with psycopg.connect(self._admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
            self._urls[data_dir] = urlunsplit(urlsplit(self._admin_url)._replace(path=f"/{name}"))
        return self._urls[data_dir]

    def drop_all(self) -> None:
        if self._admin_url is None:
            return
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            for url in self._urls.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """The module's parameter (``BOTH_STORES``), else ``OPENCOM_TEST_STORE`` (``postgres`` runs every
    fixture-opened executor and server on PostgreSQL), else SQLite."""
    stores = Stores(getattr(request, "param", os.environ.get(DEFAULT_STORE_VARIABLE, "sqlite")))
    yield stores
    stores.drop_all()


def dump_postgres(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a PostgreSQL store, to prove that nothing was written."""
    with psycopg.connect(url) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        return {
            table: connection.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()  # type: ignore[arg-type]
            for table in tables
        }


def reset_postgres(url: str) -> None:
    """Empty a test database between property-test examples (cheaper than a new database each)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
