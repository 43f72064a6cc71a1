"""How fast the runtime core is, each number beside raw SQLite measured in the same run.

    python bench/mutations.py [--seconds 3] [--quick] [--synchronous FULL]

Everything runs in this process, against fresh files in a temporary directory, at one
``PRAGMA synchronous`` setting (FULL by default, as the runtime ships). Prints one ``name: value``
line per number, ``mutation_ratio`` last:

- ``raw_commits_per_s``: plain ``sqlite3`` in WAL mode, one single-row INSERT per transaction.
- ``mutations_per_s``: ``messages:send`` of ``examples/chat`` through ``Executor.run`` from 32
  concurrent asyncio tasks; each call returns only once its commit is durable.
- ``page_reads_per_s`` / ``raw_page_reads_per_s`` and ``query_ratio`` (target ≥ 0.3): 100-row pages
  of an indexed range, read by a paginated query through ``Executor.run`` ÷ the same rows fetched
  by one indexed ``SELECT ... LIMIT 100`` on an equivalent plain table. Both sides are pure CPU work
  in this process (the data is cached), so they are timed in process CPU time, which other
  processes on the machine cannot skew; commits wait on the disk and are timed on the wall clock.

The two sides of each ratio run in alternating slices of ``SLICE_S`` seconds.
- ``mutation_ratio`` = mutations_per_s ÷ raw_commits_per_s (target ≥ 1.0: group commit shares one
  durable commit among the mutations waiting for it).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runtime.executor import Executor

CHAT = REPO / "examples" / "chat"
CONCURRENT_SENDERS = 32
PAGE_SIZE = 100
FILL_CHUNK = 100

PAGES_APP = {
    "schema.py": """
        from runtime.schema import define_schema, define_table
        from runtime.validators import v

        schema = define_schema(
            {
                "messages": define_table({"channel": v.string(), "author": v.string(), "body": v.string()}).index(
                    "by_channel", ["channel"]
                ),
            }
        )
    """,
    "functions/messages.py": """
        from runtime import mutation, query, v


        @mutation(args={"channel": v.string(), "count": v.int64()})
        async def fill(ctx, args):
            for index in range(args["count"]):
                message = {"channel": args["channel"], "author": f"user{index % 7}", "body": f"message number {index}"}
                await ctx.db.insert("messages", message)


        @query(args={"channel": v.string(), "cursor": v.union(v.string(), v.null())})
        async def page(ctx, args):
            return await (
                ctx.db.query("messages")
                .with_index("by_channel", lambda q: q.eq("channel", args["channel"]))
                .paginate({"numItems": 100, "cursor": args["cursor"]})
            )
    """,
}


SLICE_S = 0.25  # measurements alternate in slices this long, so load from elsewhere hits both sides alike


class Rate:
    """Operations and seconds accumulated over the slices of one measurement."""

    def __init__(self) -> None:
        self.operations = 0
        self.seconds = 0.0

    def add(self, operations: int, seconds: float) -> None:
        self.operations += operations
        self.seconds += seconds

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds


def raw_connection(path: Path, synchronous: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    return connection


def raw_commits(connection: sqlite3.Connection, rate: Rate) -> None:
    """One slice of single-row insert-and-commit transactions with plain sqlite3."""
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < SLICE_S:
        connection.execute("BEGIN")
        connection.execute("INSERT INTO messages (author, body) VALUES (?, ?)", ("bench", f"message {count}"))
        connection.execute("COMMIT")
        count += 1
    rate.add(count, time.perf_counter() - started)


async def mutations(executor: Executor, rate: Rate) -> None:
    """One slice of ``messages:send`` calls from concurrent tasks, each waiting for its durable commit."""
    completed = 0
    started = time.perf_counter()
    deadline = started + SLICE_S

    async def sender(number: int) -> None:
        nonlocal completed
        while time.perf_counter() < deadline:
            result = await executor.run("messages:send", {"author": f"sender{number}", "body": f"message {completed}"})
            result.unwrap()
            completed += 1

    await asyncio.gather(*(sender(number) for number in range(CONCURRENT_SENDERS)))
    rate.add(completed, time.perf_counter() - started)


class PageWalk:
    """Where the next page of the ``bench`` channel starts, wrapping around at the end."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.cursor: str | None = None

    async def pages(self, rate: Rate) -> None:
        """One slice of 100-row pages read through the paginated query (CPU time: see the module docstring)."""
        count = 0
        started = time.process_time()
        while time.process_time() - started < SLICE_S:
            result = (await self.executor.run("messages:page", {"channel": "bench", "cursor": self.cursor})).unwrap()
            assert len(result["page"]) == PAGE_SIZE or result["isDone"]
            self.cursor = None if result["isDone"] else result["continueCursor"]
            count += 1
        rate.add(count, time.process_time() - started)


class RawPageWalk:
    """The same pages from a plain table with an index on (channel, creation time, id)."""

    SELECT = (
        "SELECT id, creation_time, channel, author, body FROM messages "
        "WHERE channel = ? AND (creation_time, id) > (?, ?) ORDER BY creation_time, id LIMIT ?"
    )

    def __init__(self, connection: sqlite3.Connection, rows: int) -> None:
        self.connection = connection
        connection.execute(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, creation_time REAL NOT NULL, channel TEXT NOT NULL, "
            "author TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID"
        )
        connection.execute("CREATE INDEX by_channel ON messages (channel, creation_time, id)")
        connection.execute("BEGIN")
        for channel in ("other", "bench", "zzz"):
            for index in range(rows):
                connection.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?)",
                    (
                        f"{channel}{index:08d}",
                        time.time() * 1000 + index,
                        channel,
                        f"user{index % 7}",
                        f"message number {index}",
                    ),
                )
        connection.execute("COMMIT")
        self.position: tuple[float, str] = (-1.0, "")

    def pages(self, rate: Rate) -> None:
        count = 0
        started = time.process_time()
        while time.process_time() - started < SLICE_S:
            page = self.connection.execute(self.SELECT, ("bench", *self.position, PAGE_SIZE)).fetchall()
            self.position = (page[-1][1], page[-1][0]) if len(page) == PAGE_SIZE else (-1.0, "")
            count += 1
        rate.add(count, time.process_time() - started)


def write_pages_app(directory: Path) -> Path:
    for relative, source in PAGES_APP.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(textwrap.dedent(source))
    return directory


async def measure(directory: Path, synchronous: str, seconds: float, rows: int) -> dict[str, Rate]:
    """Every rate, each side of a ratio measured in alternating slices over about ``seconds``."""
    rates = {name: Rate() for name in ("raw_commits", "mutations", "pages", "raw_pages")}
    commits_connection = raw_connection(directory / "raw_commits.sqlite3", synchronous)
    commits_connection.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, author TEXT NOT NULL, body TEXT NOT NULL)"
    )
    raw_walk = RawPageWalk(raw_connection(directory / "raw_pages.sqlite3", synchronous), rows)
    chat = Executor.open(CHAT, directory / "chat_data", synchronous=synchronous)
    pages_executor = Executor.open(
        write_pages_app(directory / "pages_app"), directory / "pages_data", synchronous=synchronous
    )
    try:
        for channel in ("other", "bench", "zzz"):
            for _ in range(0, rows, FILL_CHUNK):  # chunks keep each mutation well inside its 1 s limit
                (await pages_executor.run("messages:fill", {"channel": channel, "count": FILL_CHUNK})).unwrap()
        walk = PageWalk(pages_executor)
        # Warm up every path once (writer task, statement caches, the chat table itself).
        raw_commits(commits_connection, Rate())
        await mutations(chat, Rate())
        await walk.pages(Rate())
        raw_walk.pages(Rate())
        for _ in range(max(1, round(seconds / SLICE_S))):
            raw_commits(commits_connection, rates["raw_commits"])
            await mutations(chat, rates["mutations"])
            await walk.pages(rates["pages"])
            raw_walk.pages(rates["raw_pages"])
    finally:
        await chat.close()
        await pages_executor.close()
        commits_connection.close()
        raw_walk.connection.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each measurement runs")
    parser.add_argument("--quick", action="store_true", help="one-second measurements on less data (a smoke run)")
    parser.add_argument("--synchronous", default="FULL", help="PRAGMA synchronous for every database (default FULL)")
    options = parser.parse_args()
    seconds = 1.0 if options.quick else options.seconds
    rows = 500 if options.quick else 2000
    with tempfile.TemporaryDirectory(prefix="opencom-bench-") as temporary:
        rates = asyncio.run(measure(Path(temporary), options.synchronous, seconds, rows))
    print(f"raw_commits_per_s: {rates['raw_commits'].per_second:.0f}")
    print(f"mutations_per_s: {rates['mutations'].per_second:.0f}")
    print(f"page_reads_per_s: {rates['pages'].per_second:.0f}")
    print(f"raw_page_reads_per_s: {rates['raw_pages'].per_second:.0f}")
    print(f"query_ratio: {rates['pages'].per_second / rates['raw_pages'].per_second:.3f}")
    print(f"mutation_ratio: {rates['mutations'].per_second / rates['raw_commits'].per_second:.3f}")


if __name__ == "__main__":
    main()
