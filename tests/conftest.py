"""Shared fixtures: small apps written on the fly, and executors opened on fresh data directories.

Every executor a test opens runs against a real SQLite file under the test's ``tmp_path`` and is
closed when the test ends, whatever happened.
"""

from __future__ import annotations

import itertools
import sqlite3
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from runtime import clock
from runtime.functions.executor import Executor
from tests.store_fixtures import Stores, dump_postgres, store_kind  # noqa: F401 - fixtures

CORE_APP = Path(__file__).parent / "apps" / "core"
"""The generic app most runtime-core tests drive (``db:apply``, ``db:select``, ``bank:*``)."""


@pytest.fixture(autouse=True, scope="module")
def _time_flows_again_after_each_module() -> Any:
    """A test harness left open (closing its executor alone does not close it) would freeze time for
    every later module — their servers and job runners would wait forever — so say where it happened."""
    yield
    if clock.installed() is not clock.SYSTEM_CLOCK:
        pytest.fail(
            "a runtime.testing harness was left open: close the harness (e.g. backend.close()), not its executor"
        )


def write_app(root: Path, files: dict[str, str]) -> Path:
    """Write an app: ``files`` maps paths relative to ``root`` (``schema.py``, ``functions/x.py``) to source."""
    (root / "functions").mkdir(parents=True, exist_ok=True)
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A factory writing a fresh app directory under ``tmp_path`` from ``{relative path: source}``."""
    counter = itertools.count()

    def make(files: dict[str, str]) -> Path:
        return write_app(tmp_path / f"app{next(counter)}", files)

    return make


@pytest.fixture
async def open_executor(tmp_path: Path, store_kind: Stores) -> AsyncIterator[Callable[..., Executor]]:
    """A factory ``open_executor(app_dir=CORE_APP, data_dir=None)``; every executor is closed afterwards.

    Without ``data_dir`` each executor gets its own directory under ``tmp_path``.
    """
    opened: list[Executor] = []

    def open_(app_dir: Path = CORE_APP, data_dir: Path | None = None) -> Executor:
        directory = data_dir if data_dir is not None else tmp_path / f"data{len(opened)}"
        executor = Executor.open(app_dir, directory, database_url=store_kind.url_for(directory))
        opened.append(executor)
        return executor

    yield open_
    for executor in opened:
        await executor.close()


@pytest.fixture
async def core(open_executor: Callable[..., Executor]) -> Executor:
    """An executor on the core test app with an empty database."""
    return open_executor()


def dump_database(executor: Executor) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every SQLite table of the executor's database, read as another process would."""
    if executor.database.database_url is not None:
        return dump_postgres(executor.database.database_url)
    connection = sqlite3.connect(f"file:{executor.database.path}?mode=ro", uri=True)
    try:
        tables = [
            name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {table: connection.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall() for table in tables}
    finally:
        connection.close()


@pytest.fixture
def dump() -> Callable[[Executor], dict[str, list[tuple[Any, ...]]]]:
    """``dump(executor)``: the database file's full contents, to prove that nothing was written."""
    return dump_database
