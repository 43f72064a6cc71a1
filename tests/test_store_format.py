"""A data file written before Convex sizes and ``by_id`` entries were stored is upgraded when opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from runtime.database.database import DATABASE_FILE
from runtime.functions.executor import Executor


def make_format_1(path: Path) -> None:
    """Turn a current file back into the earlier layout: no ``size`` column, no ``by_id`` entries."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DELETE FROM index_entries WHERE index_id IN (SELECT index_id FROM indexes WHERE name = 'by_id')")
    connection.execute("ALTER TABLE documents DROP COLUMN size")
    connection.execute("DELETE FROM meta WHERE key = 'format'")
    connection.close()


async def test_an_old_file_gets_sizes_and_by_id_entries(open_executor: Callable[..., Executor], tmp_path: Path) -> None:
    data = tmp_path / "old"
    first = open_executor(data_dir=data)
    ids = await first.call("db:apply", {"steps": [{"op": "insert", "table": "sized", "value": {"text": "hello", "n": 1}}]})
    await first.close()
    make_format_1(data / DATABASE_FILE)

    reopened = open_executor(data_dir=data)
    found = await reopened.call("db:select", {"table": "sized", "index": "by_id"})
    assert [document["_id"] for document in found] == ids
    # 86 bytes: the Convex size worked out in test_transaction_limits.
    assert (await reopened.call("limits:measure_reads"))["bytesRead"]["used"] == 86.0
