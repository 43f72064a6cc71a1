"""Acknowledged mutations survive ``kill -9``; unacknowledged ones vanish whole (DESIGN invariants).

A child process commits mutations from several concurrent tasks (so commits are grouped) and
prints each acknowledged mutation as soon as ``Executor.run`` returns. The test kills it with
SIGKILL mid-stream, reopens the data directory and checks that every acknowledged mutation is
there, that no mutation is there by halves, that documents and index entries agree, that SQLite
finds its file intact, and that new commits get timestamps above every acknowledged one; on both stores.
"""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from runtime.functions.executor import Executor
from runtime.store import DATABASE_URL_VARIABLE
from runtime.store.catalog import BY_CREATION_TIME, BY_ID
from runtime.store.sqlite import decode_document
from runtime.values.values import value_size
from tests.store_fixtures import BOTH_STORES, Stores

pytestmark = BOTH_STORES

REPO = Path(__file__).resolve().parent.parent
CORE_APP = Path(__file__).parent / "apps" / "core"
ACKNOWLEDGED_BEFORE_KILL = 300
DEADLINE_S = 60.0

WRITER = """
import asyncio, sys
from runtime.functions.executor import Executor

async def main():
    executor = Executor.open(sys.argv[1], sys.argv[2])

    async def worker(number):
        seq = 0
        while True:
            result = await executor.run("crash:pair", {"worker": number, "seq": seq})
            item, partner = result.unwrap()
            print(number, seq, result.ts, item, partner, flush=True)
            seq += 1

    await asyncio.gather(*(worker(number) for number in range(8)))

asyncio.run(main())
"""


def run_until_killed(data_dir: Path, database_url: str | None) -> list[tuple[int, int, int, str, str]]:
    """Start the writer, SIGKILL it after enough acknowledgements, return every complete line it printed."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(CORE_APP), str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **({DATABASE_URL_VARIABLE: database_url} if database_url else {})},
    )
    assert process.stdout is not None
    output = b""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while output.count(b"\n") < ACKNOWLEDGED_BEFORE_KILL:
            assert time.monotonic() < deadline, "the writer process did not acknowledge enough mutations"
            if not selector.select(timeout=1.0):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the writer process exited early: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            output += chunk
        process.send_signal(signal.SIGKILL)
        output += process.stdout.read()  # whatever was acknowledged before the kill landed
    finally:
        selector.close()
        process.kill()
        process.wait(timeout=DEADLINE_S)
        process.stdout.close()
        process.stderr.close()  # type: ignore[union-attr]
    assert process.returncode == -signal.SIGKILL
    lines = output.split(b"\n")[:-1]  # the last piece may be a line cut short by the kill
    acknowledged = []
    for line in lines:
        worker, seq, ts, item, partner = line.decode().split()
        acknowledged.append((int(worker), int(seq), int(ts), item, partner))
    return acknowledged


def _placeholders(sql: str, url: str | None) -> str:
    """``sql`` with PostgreSQL's placeholders when the store is PostgreSQL."""
    return sql.replace("?", "%s") if url else sql


def check_indexes_match_documents(executor: Executor) -> None:
    """Every index (``by_id`` too) holds exactly one entry per document of its table, with the right
    key, and every document's stored size is its Convex size."""
    url = executor.database.database_url
    connection: Any = psycopg.connect(url) if url else sqlite3.connect(f"file:{executor.database.path}?mode=ro", uri=True)
    try:
        if url is None:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        catalog = executor.database.catalog
        for table_number, indexes in catalog.stored_indexes.items():
            rows = connection.execute(_placeholders("SELECT id, body, size FROM documents WHERE table_number = ?", url), (table_number,))
            documents = {}
            for doc_id, body, size in rows:
                documents[doc_id] = decode_document(body)
                assert size == value_size(documents[doc_id])
            assert {index.name for index in indexes} >= {BY_ID, BY_CREATION_TIME}
            for index in indexes:
                entries = connection.execute(
                    _placeholders("SELECT key, doc_id FROM index_entries WHERE index_id = ?", url), (index.index_id,)
                ).fetchall()
                assert sorted(entries) == sorted(
                    (index.key_of(document), doc_id) for doc_id, document in documents.items()
                )
    finally:
        connection.close()


async def test_acknowledged_mutations_survive_sigkill_and_partial_ones_vanish(
    tmp_path: Path, open_executor: Callable[..., Executor], store_kind: Stores
) -> None:
    data_dir = tmp_path / "data"
    acknowledged = run_until_killed(data_dir, store_kind.url_for(data_dir))
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL

    executor = open_executor(CORE_APP, data_dir)
    check_indexes_match_documents(executor)
    for worker, seq, _, item, partner in acknowledged:
        stored_item = await executor.call("db:get", {"id": item})
        stored_partner = await executor.call("db:get", {"id": partner})
        assert stored_item is not None and (stored_item["a"], stored_item["b"]) == (worker, seq)
        assert stored_partner is not None and stored_partner["item"] == item

    # Whatever else committed before the kill committed whole: every item has its partner.
    items = await executor.call("db:select", {"table": "items"})
    pairs = await executor.call("db:select", {"table": "pairs"})
    assert sorted(doc["_id"] for doc in items) == sorted(doc["item"] for doc in pairs)
    assert {(doc["a"], doc["b"]) for doc in items} == {(doc["worker"], doc["seq"]) for doc in pairs}
    # Each worker waited for one acknowledgement before its next mutation, so at most one more each.
    assert len(items) - len(acknowledged) <= 8

    newest_acknowledged = max(ts for _, _, ts, _, _ in acknowledged)
    assert executor.database.last_ts >= newest_acknowledged
    after = await executor.run("crash:pair", {"worker": 99, "seq": 0})
    assert after.ok and after.ts is not None and after.ts > newest_acknowledged
    reading = await executor.run("db:get", {"id": after.value[0]})
    assert reading.ts is not None and reading.ts >= after.ts
