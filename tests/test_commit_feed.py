"""The commit feed between servers of one PostgreSQL deployment, with two databases in one process.

Each ``Database`` here stands for one server: they share a fresh PostgreSQL database, and what one
commits must reach the other's commit listeners, in timestamp order, exactly once, whatever the
size of the write set and even when the listening connection was cut meanwhile; and a mutation
one of them runs off its writer must see the other's commits as conflicts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from runtime import knobs
from runtime.database import commit_feed
from runtime.database.database import Database
from runtime.database.read_set import Commit
from runtime.functions.executor import Executor
from tests.store_fixtures import Stores
from tests.test_optimistic_mutations import APP as OCC_APP
from tests.test_optimistic_mutations import SLOW_MS, gate, let_it_go

pytestmark = pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
WAIT_S = 10.0


class Seen:
    """What one database's commit listeners received."""

    def __init__(self, database: Database) -> None:
        self.commits: list[Commit] = []
        self._arrived = asyncio.Event()
        database.add_commit_listener(self._on_commits)

    def _on_commits(self, commits: list[Commit]) -> None:
        self.commits.extend(commits)
        self._arrived.set()

    async def until(self, count: int) -> list[Commit]:
        async with asyncio.timeout(WAIT_S):
            while len(self.commits) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.commits


@pytest.fixture
async def pair(tmp_path: Path, store_kind: Stores) -> AsyncIterator[tuple[Database, Database, str]]:
    url = store_kind.url_for(tmp_path / "a")
    assert url is not None
    first, second = Database(tmp_path / "a", database_url=url), Database(tmp_path / "b", database_url=url)
    await first.start()
    await second.start()
    await asyncio.sleep(0.2)  # both are listening
    yield first, second, url
    await first.close()
    await second.close()


async def test_another_servers_commits_arrive_in_order_with_their_write_sets(
    pair: tuple[Database, Database, str],
) -> None:
    first, second, _ = pair
    seen = Seen(second)
    ids = [(await first.mutate(lambda t, n=n: t.insert("notes", {"n": n}))).value for n in range(3)]
    commits = await seen.until(3)
    assert [commit.writes[0].doc_id for commit in commits] == ids
    assert [commit.writes[0].new["n"] for commit in commits] == [0, 1, 2]  # type: ignore[index]
    assert [commit.ts for commit in commits] == sorted(commit.ts for commit in commits)
    assert second.last_ts == commits[-1].ts
    assert second.count_documents("notes") == 3  # a table the second server learnt of from the feed


async def test_a_write_set_too_large_for_a_notification_is_read_from_the_commit_log(
    pair: tuple[Database, Database, str]
) -> None:
    first, second, _ = pair
    seen = Seen(second)
    text = "x" * (2 * commit_feed.MAX_PAYLOAD)
    result = await first.mutate(lambda t: t.insert("notes", {"text": text}))
    [commit] = await seen.until(1)
    assert commit.ts == result.ts and commit.writes[0].new["text"] == text  # type: ignore[index]


async def test_a_server_whose_listening_connection_was_cut_catches_up_in_order(
    pair: tuple[Database, Database, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, url = pair
    monkeypatch.setattr(commit_feed, "RECONNECT_DELAY_S", 0.3)
    seen = Seen(second)
    with psycopg.connect(url, autocommit=True) as admin:
        listening = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%%' AND datname = current_database()"
        )
        cut = admin.execute(listening).fetchall()
    assert len(cut) == 2
    stamps = [(await first.mutate(lambda t, n=n: t.insert("notes", {"n": n}))).ts for n in range(4)]
    commits = await seen.until(4)
    assert [commit.ts for commit in commits] == stamps


async def test_each_commit_is_delivered_once_whichever_server_made_it(pair: tuple[Database, Database, str]) -> None:
    first, second, _ = pair
    seen_first, seen_second = Seen(first), Seen(second)
    await asyncio.gather(
        *(
            database.mutate(lambda t, n=n: t.insert("notes", {"n": n}))
            for n in range(10)
            for database in (first, second)
        )
    )
    for seen in (seen_first, seen_second):
        commits = await seen.until(20)
        await asyncio.sleep(0.2)  # a duplicate would arrive now
        stamps = [commit.ts for commit in seen.commits]
        assert len(commits) == 20 and stamps == sorted(set(stamps))


async def test_a_mutation_run_off_the_writer_conflicts_with_another_servers_commit(
    tmp_path: Path, store_kind: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 0.01)
    url = store_kind.url_for(tmp_path / "a")
    first, second = (Executor.open(OCC_APP, tmp_path / name, database_url=url) for name in ("a", "b"))
    try:
        for executor in (first, second):
            executor.run_scheduled_jobs = False
        counter = await first.call("occ:create", {"value": 0})
        read_done, proceed = gate(second)
        slow = asyncio.create_task(second.run("occ:slow_increment", {"id": counter, "ms": SLOW_MS, "gate": True}))
        assert await asyncio.to_thread(read_done.wait, 10)  # it read 0 at its snapshot…
        read_done.clear()
        assert await first.call("occ:increment", {"id": counter}) == 0  # …then the other server wrote 1
        proceed.set()
        await let_it_go(read_done, proceed)  # its second run
        result = await slow
        # Its first run would have written 1 over the other server's 1: it ran again, saw 1, wrote 2.
        assert result.ok, result.error
        assert result.value == 1
        assert await second.call("occ:value", {"id": counter}) == 2
    finally:
        await first.close()
        await second.close()
