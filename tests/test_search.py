"""Text search (FTS5 behind declared search indexes), through the executor (vector search: test_vector_search)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.database.read_set import Commit
from runtime.functions.executor import Executor
from tests.store_fixtures import BOTH_STORES, Stores

pytestmark = BOTH_STORES

APP = Path(__file__).parent / "apps" / "search"


@pytest.fixture
async def executor(tmp_path: Path, store_kind: Stores) -> AsyncIterator[Executor]:
    opened = Executor.open(APP, tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    yield opened
    await opened.close()


async def add(executor: Executor, body: str, channel: str = "general", embedding: list[float] | None = None) -> str:
    args = {"body": body, "channel": channel}
    if embedding is not None:
        args["embedding"] = embedding
    return await executor.call("notes:add", args)


async def test_matches_any_term_and_the_last_term_as_prefix(executor: Executor) -> None:
    await add(executor, "the quick brown fox")
    await add(executor, "lazy dogs sleep")
    await add(executor, "Convex is reactive")
    assert await executor.call("notes:search", {"text": "con"}) == ["Convex is reactive"]
    assert sorted(await executor.call("notes:search", {"text": "fox dogs"})) == ["lazy dogs sleep", "the quick brown fox"]
    assert await executor.call("notes:search", {"text": "cat"}) == []
    assert await executor.call("notes:search", {"text": ""}) == []
    # A prefix only applies to the last term.
    assert await executor.call("notes:search", {"text": "qui brown"}) == ["the quick brown fox"]
    assert await executor.call("notes:search", {"text": "qui"}) == ["the quick brown fox"]
    assert await executor.call("notes:search", {"text": "qui zzz"}) == []


async def test_relevance_order_then_newest_first(executor: Executor) -> None:
    await add(executor, "pear apple")
    await add(executor, "apple apple apple")
    await add(executor, "apple pear")
    results = await executor.call("notes:search", {"text": "apple"})
    # More occurrences rank first; the two equally relevant documents come newest first.
    assert results == ["apple apple apple", "apple pear", "pear apple"]


async def test_tokenizes_on_punctuation_and_case(executor: Executor) -> None:
    await add(executor, "Hello, WORLD! e-mail: someone@example.com")
    assert await executor.call("notes:search", {"text": "world"}) == ["Hello, WORLD! e-mail: someone@example.com"]
    assert await executor.call("notes:search", {"text": "example"}) == ["Hello, WORLD! e-mail: someone@example.com"]
    assert await executor.call("notes:search", {"text": "mail"}) == ["Hello, WORLD! e-mail: someone@example.com"]


async def test_eq_filters(executor: Executor) -> None:
    await add(executor, "deploy the release", "ops")
    await add(executor, "release notes", "docs")
    assert await executor.call("notes:search", {"text": "release", "channel": "ops"}) == ["deploy the release"]
    assert await executor.call("notes:search", {"text": "release", "channel": "nowhere"}) == []


async def test_search_sees_updates_and_deletes(executor: Executor) -> None:
    note = await add(executor, "original words")
    await executor.call("notes:edit", {"id": note, "body": "replacement text"})
    assert await executor.call("notes:search", {"text": "original"}) == []
    assert await executor.call("notes:search", {"text": "replacement"}) == ["replacement text"]
    await executor.call("notes:remove", {"id": note})
    assert await executor.call("notes:search", {"text": "replacement"}) == []


async def test_rolled_back_writes_never_reach_the_index(tmp_path: Path, store_kind: Stores) -> None:
    app = tmp_path / "app"
    (app / "functions").mkdir(parents=True)
    (app / "schema.py").write_text((APP / "schema.py").read_text())
    (app / "functions" / "notes.py").write_text(
        "from runtime import mutation, query, v\n"
        "@mutation(args={})\n"
        "async def add_then_fail(ctx, args):\n"
        "    await ctx.db.insert('notes', {'body': 'ghost', 'channel': 'x'})\n"
        "    raise RuntimeError('no')\n"
        "@query(args={})\n"
        "async def ghosts(ctx, args):\n"
        "    return await ctx.db.query('notes').with_search_index('search_body', lambda q: q.search('body', 'ghost')).collect()\n"
    )
    executor = Executor.open(app, tmp_path / "data", database_url=store_kind.url_for(tmp_path / "data"))
    try:
        assert not (await executor.run("notes:add_then_fail", {})).ok
        assert await executor.call("notes:ghosts", {}) == []
    finally:
        await executor.close()


async def test_search_errors_name_the_problem(executor: Executor) -> None:
    result = await executor.run("notes:bad_search", {"field": "channel"})
    assert "doesn't match the indexed `searchField` \"body\"" in str(result.error)


async def test_paginated_search_walks_every_match_once(executor: Executor) -> None:
    for number in range(7):
        await add(executor, f"item number {number}")
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await executor.call("notes:search_page", {"text": "item", "paginationOpts": {"numItems": 3.0, "cursor": cursor}})
        seen.extend(page["page"])
        cursor = page["continueCursor"]
        if page["isDone"]:
            break
    assert sorted(seen) == sorted(f"item number {number}" for number in range(7))


async def test_search_reads_join_the_read_set(executor: Executor) -> None:
    commits: list[Commit] = []
    executor.database.add_commit_listener(commits.extend)
    await add(executor, "alpha beta", "one")
    result = executor.run_query(executor.app.lookup("notes:search"), {"text": "alpha", "channel": "one"})
    assert result.read_set is not None and result.read_set.searches
    (read,) = result.read_set.searches
    assert read.terms == ("alpha",) and read.filters == (("channel", "one"),)
    indexes = executor.database.search_indexes
    commits.clear()
    await add(executor, "alphabet soup", "one")  # matches: "alpha" is the last term, a prefix
    await add(executor, "alpha", "two")  # another channel
    await add(executor, "gamma", "one")  # no term
    overlapping = [any(indexes.write_overlaps(read, write) for write in commit.writes) for commit in commits]
    assert overlapping == [True, False, False]


async def test_a_page_of_search_results_that_fills_exactly_is_not_done(executor: Executor) -> None:
    """§3.12: no look-ahead, for search pages too: the next call returns [] with isDone true."""
    for number in range(3):
        await add(executor, f"item number {number}")
    options = {"numItems": 3.0, "cursor": None}
    full = await executor.call("notes:search_page", {"text": "item", "paginationOpts": options})
    assert len(full["page"]) == 3 and full["isDone"] is False
    options = {"numItems": 3.0, "cursor": full["continueCursor"]}
    last = await executor.call("notes:search_page", {"text": "item", "paginationOpts": options})
    assert (last["page"], last["isDone"]) == ([], True)
