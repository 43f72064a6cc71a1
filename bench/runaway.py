"""Runaway functions: other clients' latency while one client runs CPU-bound queries or mutations.

    python bench/runaway.py [--before REV] [--burn-ms 2500] [--window 4] [--trials 3]

Starts the server of the working tree and, with ``--before``, of another git revision (e.g.
``main``) on ``bench/apps/compute``. In each trial, run on each server in turn (interleaved), a
victim sends ``work:ping`` queries over HTTP one after another for ``--window`` seconds, first
alone, then while an attacker calls ``work:burn {ms: --burn-ms}`` back to back (a query that
computes for that much CPU time without touching the database; it is stopped at the time limit
where there is one, which counts CPU time as Convex's does). Then the same with mutations: the
victim calls ``work:tick`` (one insert) while the attacker calls ``work:burn_write`` (computes, then
writes).
Prints, per version, median [min-max] over the trials of ``p99_ratio``: the victim's query p99
latency with the runaway ÷ without, and ``p99_runaway_ms``, that p99 itself; ``mutation_p99_ratio``
and ``mutation_p99_runaway_ms`` the same for mutations.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versions import REPO, compare  # noqa: E402

APP = REPO / "bench" / "apps" / "compute"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def call(http: aiohttp.ClientSession, url: str, kind: str, path: str, args: dict[str, float]) -> float:
    started = time.perf_counter()
    async with http.post(f"{url}/api/{kind}", json={"path": path, "args": args, "format": "json"}) as response:
        await response.read()
    return time.perf_counter() - started


async def victim(http: aiohttp.ClientSession, url: str, kind: str, path: str, window: float) -> list[float]:
    latencies = []
    deadline = time.perf_counter() + window
    while time.perf_counter() < deadline:
        latencies.append(await call(http, url, kind, path, {}))
    return latencies


async def runaway(http: aiohttp.ClientSession, url: str, kind: str, path: str, burn_ms: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await call(http, url, kind, path, {"ms": burn_ms})


async def p99_pair(
    http: aiohttp.ClientSession, url: str, kind: str, victim_path: str, runaway_path: str, burn_ms: float, window: float
) -> tuple[float, float]:
    """The victim's p99 latency alone, then while the runaway runs back to back."""
    quiet = p99(await victim(http, url, kind, victim_path, window))
    stop = asyncio.Event()
    attacker = asyncio.create_task(runaway(http, url, kind, runaway_path, burn_ms, stop))
    await asyncio.sleep(0.05)  # the first runaway is under way
    loud = p99(await victim(http, url, kind, victim_path, window))
    stop.set()
    await attacker
    return quiet, loud


async def trial(http: aiohttp.ClientSession, url: str, burn_ms: float, window: float) -> dict[str, float]:
    quiet, loud = await p99_pair(http, url, "query", "work:ping", "work:burn", burn_ms, window)
    quiet_writes, loud_writes = await p99_pair(http, url, "mutation", "work:tick", "work:burn_write", burn_ms, window)
    return {
        "p99_ratio": loud / quiet,
        "p99_runaway_ms": loud * 1000,
        "mutation_p99_ratio": loud_writes / quiet_writes,
        "mutation_p99_runaway_ms": loud_writes * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="git revision to compare with (e.g. main)")
    parser.add_argument("--burn-ms", type=float, default=2500.0)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--trials", type=int, default=3)
    options = parser.parse_args()

    async def prepare(http: aiohttp.ClientSession, url: str) -> None:
        # Create the tables the mutations write, so that no measured call creates one.
        await call(http, url, "mutation", "work:tick", {})
        await call(http, url, "mutation", "work:burn_write", {"ms": 0.0})

    async def measure(http: aiohttp.ClientSession, url: str, pid: int) -> dict[str, float]:
        return await trial(http, url, options.burn_ms, options.window)

    await compare(options.before, APP, options.trials, prepare, measure)


if __name__ == "__main__":
    asyncio.run(main())
