"""Single-node PostgreSQL store against single-node SQLite, on the same load in one run.

    python bench/postgres_store.py [--seconds 3] [--quick] [--database postgresql://…]

Both stores serve the same two loads, in alternating slices: ``messages:send`` of
``examples/chat`` from concurrent tasks (each call returns once its commit is durable: SQLite
``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``), and 100-row pages of an indexed range
through a paginated query. Everything is timed on the wall clock, since PostgreSQL's share of the
work runs in its own processes. The PostgreSQL side uses a fresh database created beside
``--database`` (default ``$OPENCOM_TEST_POSTGRES_URL``, else the local server) and dropped after.
Prints ``name: value`` lines, the two ratios (PostgreSQL ÷ SQLite) last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import CHAT, FILL_CHUNK, PAGE_SIZE, SLICE_S, Rate, mutations, write_pages_app  # noqa: E402

from runtime.functions.executor import Executor  # noqa: E402

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


class WallPageWalk:
    """Pages of the ``bench`` channel, wrapping around at the end, timed on the wall clock."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.cursor: str | None = None

    async def pages(self, rate: Rate) -> None:
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < SLICE_S:
            result = (await self.executor.run("messages:page", {"channel": "bench", "cursor": self.cursor})).unwrap()
            assert len(result["page"]) == PAGE_SIZE or result["isDone"]
            self.cursor = None if result["isDone"] else result["continueCursor"]
            count += 1
        rate.add(count, time.perf_counter() - started)


async def open_pair(directory: Path, urls: tuple[str | None, str | None], rows: int) -> tuple[Executor, Executor, WallPageWalk]:
    """The chat executor and the filled pages executor on one store (PostgreSQL when ``urls`` name databases)."""
    chat = Executor.open(CHAT, directory / "chat_data", database_url=urls[0])
    pages = Executor.open(write_pages_app(directory / "pages_app"), directory / "pages_data", database_url=urls[1])
    for channel in ("other", "bench", "zzz"):
        for _ in range(0, rows, FILL_CHUNK):
            (await pages.run("messages:fill", {"channel": channel, "count": FILL_CHUNK})).unwrap()
    return chat, pages, WallPageWalk(pages)


async def measure(directory: Path, urls: tuple[str, str], seconds: float, rows: int) -> dict[str, Rate]:
    rates = {f"{store}_{load}": Rate() for store in ("sqlite", "postgres") for load in ("mutations", "pages")}
    sides = {
        "sqlite": await open_pair(directory / "sqlite", (None, None), rows),
        "postgres": await open_pair(directory / "postgres", urls, rows),
    }
    try:
        for chat, _, walk in sides.values():  # warm up every path once
            await mutations(chat, Rate())
            await walk.pages(Rate())
        for _ in range(max(1, round(seconds / SLICE_S))):
            for store, (chat, _, walk) in sides.items():
                await mutations(chat, rates[f"{store}_mutations"])
                await walk.pages(rates[f"{store}_pages"])
    finally:
        for chat, pages, _ in sides.values():
            await chat.close()
            await pages.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each measurement runs")
    parser.add_argument("--quick", action="store_true", help="one-second measurements on less data (a smoke run)")
    parser.add_argument("--database", default=os.environ.get("OPENCOM_TEST_POSTGRES_URL", LOCAL_POSTGRES))
    options = parser.parse_args()
    seconds, rows = (1.0, 500) if options.quick else (options.seconds, 2000)
    name = f"opencom_bench_{secrets.token_hex(4)}"
    names = [f"{name}_chat", f"{name}_pages"]
    with psycopg.connect(options.database, autocommit=True) as admin:
        for database in names:
            admin.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]
    try:
        chat_url, pages_url = (urlunsplit(urlsplit(options.database)._replace(path=f"/{database}")) for database in names)
        with tempfile.TemporaryDirectory(prefix="opencom-bench-") as temporary:
            rates = asyncio.run(measure(Path(temporary), (chat_url, pages_url), seconds, rows))
    finally:
        with psycopg.connect(options.database, autocommit=True) as admin:
            for database in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # type: ignore[arg-type]
    for key, rate in rates.items():
        print(f"{key}_per_s: {rate.per_second:.0f}")
    print(f"mutation_ratio_postgres_over_sqlite: {rates['postgres_mutations'].per_second / rates['sqlite_mutations'].per_second:.3f}")
    print(f"page_ratio_postgres_over_sqlite: {rates['postgres_pages'].per_second / rates['sqlite_pages'].per_second:.3f}")


if __name__ == "__main__":
    main()
