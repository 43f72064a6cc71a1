"""Runaway functions: other clients' query latency while one client runs CPU-bound queries.

    python bench/runaway.py [--before REV] [--burn-ms 2500] [--window 4] [--trials 3]

Starts the server of the working tree and, with ``--before``, of another git revision (e.g.
``main``) on ``bench/apps/guard``. In each trial, run on each server in turn (interleaved), a
victim sends ``work:ping`` queries over HTTP one after another for ``--window`` seconds, first
alone, then while an attacker calls ``work:burn {ms: --burn-ms}`` back to back (a query that
computes for that much CPU time without touching the database; it is stopped at the time limit
where there is one, which counts CPU time as Convex's does).
Prints, per version, median [min-max] over the trials of ``p99_ratio``: the victim's p99 latency
with the runaway ÷ without, and ``p99_runaway_ms``, that p99 itself.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versions import REPO, running_server, source_tree, spread  # noqa: E402

APP = REPO / "bench" / "apps" / "guard"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def call(http: aiohttp.ClientSession, url: str, path: str, args: dict[str, float]) -> float:
    started = time.perf_counter()
    async with http.post(f"{url}/api/query", json={"path": path, "args": args, "format": "json"}) as response:
        await response.read()
    return time.perf_counter() - started


async def victim(http: aiohttp.ClientSession, url: str, window: float) -> list[float]:
    latencies = []
    deadline = time.perf_counter() + window
    while time.perf_counter() < deadline:
        latencies.append(await call(http, url, "work:ping", {}))
    return latencies


async def runaway(http: aiohttp.ClientSession, url: str, burn_ms: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await call(http, url, "work:burn", {"ms": burn_ms})


async def trial(http: aiohttp.ClientSession, url: str, burn_ms: float, window: float) -> tuple[float, float]:
    quiet = p99(await victim(http, url, window))
    stop = asyncio.Event()
    attacker = asyncio.create_task(runaway(http, url, burn_ms, stop))
    await asyncio.sleep(0.05)  # the first runaway is under way
    loud = p99(await victim(http, url, window))
    stop.set()
    await attacker
    return loud / quiet, loud * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="git revision to compare with (e.g. main)")
    parser.add_argument("--burn-ms", type=float, default=2500.0)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--trials", type=int, default=3)
    options = parser.parse_args()
    versions = {"after": None} if options.before is None else {"before": options.before, "after": None}
    results: dict[str, dict[str, list[float]]] = {name: {"p99_ratio": [], "p99_runaway_ms": []} for name in versions}
    with source_tree(options.before) as before_tree:
        async with AsyncExitStack() as stack, aiohttp.ClientSession() as http:
            servers = {}
            for name, rev in versions.items():
                tree = before_tree if rev is not None else REPO
                servers[name] = (await stack.enter_async_context(running_server(tree, APP)))[0]
            for _ in range(options.trials):
                for name, url in servers.items():
                    ratio, loud_ms = await trial(http, url, options.burn_ms, options.window)
                    results[name]["p99_ratio"].append(ratio)
                    results[name]["p99_runaway_ms"].append(loud_ms)
    for name, metrics in results.items():
        for metric, values in metrics.items():
            print(f"{name}_{metric}: {spread(values)}")


if __name__ == "__main__":
    asyncio.run(main())
