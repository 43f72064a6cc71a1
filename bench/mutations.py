"""How fast the runtime core is, each number beside raw SQLite measured in the same run.

    python bench/mutations.py [--seconds 3] [--repeats 3] [--quick] [--synchronous FULL]

Everything runs in this process, against fresh files in a temporary directory, at one
``PRAGMA synchronous`` setting (FULL by default, as the runtime ships). Prints one ``name: value``
line per number, as the median [min-max] over ``--repeats`` rounds, ``mutation_ratio`` last:

- ``raw_commits_per_s``: plain ``sqlite3`` in WAL mode, one single-row INSERT per transaction.
- ``mutations_per_s``: ``messages:send`` of ``examples/chat`` through ``Executor.run`` from 32
  concurrent asyncio tasks; each call returns only once its commit is durable.
- ``page_reads_per_s`` / ``raw_page_reads_per_s`` and ``query_ratio`` (target ≥ 0.3): 100-row pages
  of an indexed range, read by a paginated query through ``Executor.run`` ÷ the same rows fetched
  by one indexed ``SELECT ... LIMIT 100`` on an equivalent plain table. Both sides are pure CPU work
  in this process (the data is cached), so they are timed in process CPU time, which other
  processes on the machine cannot skew; commits wait on the disk and are timed on the wall clock.

The two sides of each ratio run in alternating slices of ``SLICE_S`` seconds, and each round of
slices gives one value of each ratio.
- ``mutation_cpu_ratio``: process CPU per mutation ÷ per raw single-row commit. CPU time does not
  move with the disk, so this is the number to compare between runs on a noisy machine.
- ``mutation_ratio`` = mutations_per_s ÷ raw_commits_per_s (target ≥ 1.0: group commit shares one
  durable commit among the mutations waiting for it). It waits on fsync, whose rate here can swing
  10× within seconds: read it beside ``mutation_cpu_ratio``, or run with ``--synchronous NORMAL``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runtime.functions.executor import Executor

CHAT = REPO / "examples" / "chat"
CONCURRENT_SENDERS = 32
PAGE_SIZE = 100
FILL_CHUNK = 100

PAGES_APP = {
    "schema.py": """
        from runtime import define_schema, define_table, v

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
        self.cpu_seconds = 0.0

    def add(self, operations: int, seconds: float, cpu_seconds: float = 0.0) -> None:
        self.operations += operations
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds

    @property
    def cpu_per_operation(self) -> float:
        return self.cpu_seconds / max(self.operations, 1)

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
    started, cpu_started = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < SLICE_S:
        connection.execute("BEGIN")
        connection.execute("INSERT INTO messages (author, body) VALUES (?, ?)", ("bench", f"message {count}"))
        connection.execute("COMMIT")
        count += 1
    rate.add(count, time.perf_counter() - started, time.process_time() - cpu_started)


async def mutations(executor: Executor, rate: Rate) -> None:
    """One slice of ``messages:send`` calls from concurrent tasks, each waiting for its durable commit."""
    completed = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + SLICE_S

    async def sender(number: int) -> None:
        nonlocal completed
        while time.perf_counter() < deadline:
            result = await executor.run("messages:send", {"author": f"sender{number}", "body": f"message {completed}"})
            result.unwrap()
            completed += 1

    await asyncio.gather(*(sender(number) for number in range(CONCURRENT_SENDERS)))
    rate.add(completed, time.perf_counter() - started, time.process_time() - cpu_started)


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


Rounds = list[dict[str, Rate]]


async def measure(directory: Path, synchronous: str, seconds: float, rows: int, repeats: int) -> Rounds:
    """Every rate per round, each side of a ratio measured in alternating slices over about ``seconds``."""
    rounds = [{name: Rate() for name in ("raw_commits", "mutations", "pages", "raw_pages")} for _ in range(repeats)]
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
        for rates in rounds:
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
    return rounds


def spread(values: list[float], digits: int) -> str:
    """median [min-max]"""
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each measurement runs")
    parser.add_argument("--quick", action="store_true", help="one-second measurements on less data (a smoke run)")
    parser.add_argument("--synchronous", default="FULL", help="PRAGMA synchronous for every database (default FULL)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds, each giving one value of every ratio")
    options = parser.parse_args()
    seconds = 1.0 if options.quick else options.seconds
    rows = 500 if options.quick else 2000
    with tempfile.TemporaryDirectory(prefix="opencom-bench-") as temporary:
        rounds = asyncio.run(measure(Path(temporary), options.synchronous, seconds, rows, options.repeats))
    for name, label in (("raw_commits", "raw_commits_per_s"), ("mutations", "mutations_per_s"),
                        ("pages", "page_reads_per_s"), ("raw_pages", "raw_page_reads_per_s")):  # fmt: skip
        print(f"{label}: {spread([rates[name].per_second for rates in rounds], 0)}")
    print(f"query_ratio: {spread([r['pages'].per_second / r['raw_pages'].per_second for r in rounds], 3)}")
    cpu_ratios = [r["mutations"].cpu_per_operation / r["raw_commits"].cpu_per_operation for r in rounds]
    print(f"mutation_cpu_ratio: {spread(cpu_ratios, 2)}")
    print(f"mutation_ratio: {spread([r['mutations'].per_second / r['raw_commits'].per_second for r in rounds], 3)}")


if __name__ == "__main__":
    main()
