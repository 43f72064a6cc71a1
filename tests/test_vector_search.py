"""Vector search through the executor: the exact scan (SQLite, PostgreSQL) and pgvector's HNSW indexes.

Every test runs on three stores: SQLite, PostgreSQL with the exact scan (``OPENCOM_PGVECTOR=0``) and
PostgreSQL with the ``vector`` extension. The last one skips with one line naming what to install
when the test PostgreSQL server cannot create the extension.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from tests.store_fixtures import Stores
from tests.test_search import add

APP = Path(__file__).parent / "apps" / "search"
PGVECTOR_MISSING = (
    "pgvector tests need the vector extension in the test PostgreSQL server: "
    "apt-get install postgresql-15-pgvector (or build pgvector for PostgreSQL 15)"
)


def pgvector_available(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=5) as connection:
        return connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None


@pytest.fixture(params=["sqlite", "postgres-exact", "pgvector"])
async def executor(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Executor]:
    stores = Stores("sqlite" if request.param == "sqlite" else "postgres")
    url = stores.url_for(tmp_path / "data")
    if request.param == "pgvector" and not pgvector_available(url or ""):
        stores.drop_all()
        pytest.skip(PGVECTOR_MISSING)
    monkeypatch.setattr(knobs, "PGVECTOR", int(request.param == "pgvector"))
    opened = Executor.open(APP, tmp_path / "data", database_url=url)
    assert uses_pgvector(opened) == (request.param == "pgvector")
    try:
        yield opened
    finally:
        await opened.close()
        stores.drop_all()


def uses_pgvector(executor: Executor) -> bool:
    vectors = getattr(executor.database._reader_connection, "vectors", None)
    return vectors is not None and vectors.enabled


async def test_vector_search_orders_by_cosine_similarity(executor: Executor) -> None:
    close = await add(executor, "close", embedding=[1.0, 0.0, 0.0])
    middle = await add(executor, "middle", embedding=[1.0, 1.0, 0.0])
    far = await add(executor, "far", "other", embedding=[-1.0, 0.0, 0.0])
    await add(executor, "no vector")
    results = await executor.call("notes:similar", {"vector": [1.0, 0.0, 0.0]})
    assert [hit["_id"] for hit in results] == [close, middle, far]
    assert results[0]["_score"] == pytest.approx(1.0)
    assert results[2]["_score"] == pytest.approx(-1.0)
    filtered = await executor.call("notes:similar", {"vector": [1.0, 0.0, 0.0], "channel": "other"})
    assert [hit["_id"] for hit in filtered] == [far]
    limited = await executor.call("notes:similar", {"vector": [1.0, 0.0, 0.0], "limit": 1.0})
    assert [hit["_id"] for hit in limited] == [close]


async def test_vector_search_rejects_wrong_dimensions(executor: Executor) -> None:
    result = await executor.run("notes:similar", {"vector": [1.0, 0.0]})
    assert "Expected a vector with dimensions 3, received 2." in str(result.error)


async def test_a_vector_filter_must_name_a_field(executor: Executor) -> None:
    """§9.2: the first argument of the filter's `q.eq` is a field name."""
    result = await executor.run("notes:similar_filtered_by_value", {"vector": [1.0, 0.0, 0.0]})
    assert str(result.error) == "The first argument to `q.eq` must be a field name."


async def test_vector_search_follows_updates_and_deletes(executor: Executor) -> None:
    first = await add(executor, "first", embedding=[1.0, 0.0, 0.0])
    second = await add(executor, "second", embedding=[0.0, 1.0, 0.0])
    await executor.call("notes:remove", {"id": first})
    await executor.call("notes:move", {"id": second, "embedding": [1.0, 0.1, 0.0], "channel": "moved"})
    results = await executor.call("notes:similar", {"vector": [1.0, 0.0, 0.0], "channel": "moved"})
    assert [hit["_id"] for hit in results] == [second]
    assert results[0]["_score"] == pytest.approx(1.0 / (1.01**0.5))
    assert await executor.call("notes:similar", {"vector": [1.0, 0.0, 0.0], "channel": "general"}) == []


async def test_the_index_finds_what_the_exact_scan_finds(executor: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many vectors, many queries, with and without filters: the same ids and scores as a full scan
    of the same data (on pgvector, the same database searched with the extension switched off)."""
    rng = random.Random(7)
    channels = ["a", "b", "c"]
    for number in range(150):
        embedding = [rng.uniform(-1.0, 1.0) for _ in range(3)]
        await add(executor, f"note {number}", rng.choice(channels), embedding)
    queries = [[rng.uniform(-1.0, 1.0) for _ in range(3)] for _ in range(12)]
    cases = [{"vector": query, "limit": float(rng.choice([1, 10, 50]))} for query in queries]
    cases += [{**case, "channel": rng.choice(channels)} for case in cases]
    found = [await executor.call("notes:similar", case) for case in cases]
    monkeypatch.setattr(knobs, "PGVECTOR", 0)
    for case, results in zip(cases, found, strict=True):
        exact = await executor.call("notes:similar", case)
        assert [hit["_id"] for hit in results] == [hit["_id"] for hit in exact], case
        assert [hit["_score"] for hit in results] == [hit["_score"] for hit in exact], case
        assert len(results) == min(int(case["limit"]), len(exact))


async def test_pgvector_keeps_one_entry_per_indexed_document_and_an_hnsw_index(executor: Executor) -> None:
    if not uses_pgvector(executor):
        return  # the exact scan keeps nothing beside the documents
    await add(executor, "indexed", embedding=[0.5, 0.5, 0.0])
    await add(executor, "not indexed")
    url = executor.database.database_url
    assert url is not None
    with psycopg.connect(url) as connection:
        entries = connection.execute("SELECT count(*) FROM vector_entries").fetchone()
        indexes = connection.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'vector_entries' AND indexdef LIKE '%hnsw%'"
        ).fetchall()
    assert entries == (1,)
    assert len(indexes) == 1 and "vector_cosine_ops" in indexes[0][0]
