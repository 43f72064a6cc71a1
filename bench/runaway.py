"""Runaway functions: other clients' latency while one client runs CPU-bound queries or mutations.

    python bench/runaway.py [--before REV] [--burn-ms 2500] [--window 4] [--trials 3]

Starts the server of the working tree and, with ``--before``, of another git revision (e.g.
``main``) on ``bench/apps/compute``. In each trial, run on each server in turn (interleaved), a
victim sends ``work:ping`` queries over HTTP, one every ``VICTIM_INTERVAL_S`` for ``--window`` seconds, first
alone, then while an attacker calls ``work:burn {ms: --burn-ms}`` back to back (a query that
computes for that much CPU time without touching the database; it is stopped at the time limit
where there is one, which counts CPU time as Convex's does). Then the same with mutations: the
victim calls ``work:tick`` (one insert) while the attacker calls ``work:burn_write`` (computes, then
writes). Then the victim's queries again beside a *subscribed* runaway: the attacker holds a sync
WebSocket subscribed to ``work:burn_once_poked`` and pokes it with a mutation every
``POKE_INTERVAL_S``, so that every commit re-runs it (a runaway re-run).
Prints, per version, median [min-max] over the trials of ``p99_ratio``: the victim's query p99
latency with the runaway ÷ without, ``p99_runaway_ms``, that p99 itself, and ``max_runaway_ms``, the
victim's longest wait (one stall of the event loop hides below a p99); ``mutation_`` the same for
mutations, ``subscribed_`` for the subscribed runaway.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versions import REPO, compare  # noqa: E402

APP = REPO / "bench" / "apps" / "compute"
POKE_INTERVAL_S = 0.25  # between two commits that re-run the subscribed runaway
VICTIM_INTERVAL_S = 0.01  # between two of the victim's queries


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def call(http: aiohttp.ClientSession, url: str, kind: str, path: str, args: dict[str, float]) -> float:
    started = time.perf_counter()
    async with http.post(f"{url}/api/{kind}", json={"path": path, "args": args, "format": "json"}) as response:
        await response.read()
    return time.perf_counter() - started


async def victim(http: aiohttp.ClientSession, url: str, kind: str, path: str, window: float) -> list[float]:
    """Latencies of ``path`` called every ``VICTIM_INTERVAL_S`` whatever the answers (open loop),
    each counted from when it was due: a stalled server is charged for every request it held up."""

    async def timed(due: float) -> float:
        await call(http, url, kind, path, {})
        return time.perf_counter() - due

    started, calls = time.perf_counter(), []
    for index in range(int(window / VICTIM_INTERVAL_S)):
        due = started + index * VICTIM_INTERVAL_S
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        calls.append(asyncio.create_task(timed(due)))
    return list(await asyncio.gather(*calls))


async def runaway(
    http: aiohttp.ClientSession, url: str, *, kind: str, path: str, burn_ms: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        await call(http, url, kind, path, {"ms": burn_ms})


async def subscribed_runaway(http: aiohttp.ClientSession, url: str, *, burn_ms: float, stop: asyncio.Event) -> None:
    """Subscribe to ``work:burn_once_poked`` over the sync protocol, then poke it until ``stop``."""
    async with http.ws_connect(url.replace("http", "ws", 1) + "/api/sync") as socket:
        await socket.send_json({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                                "lastCloseReason": "InitialConnect", "clientTs": 0})  # fmt: skip
        add = {"type": "Add", "queryId": 0, "udfPath": "work:burn_once_poked", "args": [{"ms": burn_ms}]}
        await socket.send_json({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]})
        drain = asyncio.create_task(_drain(socket))
        for request_id in range(1_000_000):
            if stop.is_set():
                break
            await socket.send_json({"type": "Mutation", "requestId": request_id, "udfPath": "work:poke", "args": [{}]})
            await asyncio.sleep(POKE_INTERVAL_S)
        drain.cancel()


async def _drain(socket: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in socket:
        pass


async def trial(http: aiohttp.ClientSession, url: str, burn_ms: float, window: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    cases = (
        ("", "query", "work:ping", functools.partial(runaway, kind="query", path="work:burn")),
        ("mutation_", "mutation", "work:tick", functools.partial(runaway, kind="mutation", path="work:burn_write")),
        ("subscribed_", "query", "work:ping", subscribed_runaway),
    )
    for prefix, kind, victim_path, attack in cases:
        quiet = p99(await victim(http, url, kind, victim_path, window))
        stop = asyncio.Event()
        attacker = asyncio.create_task(attack(http, url, burn_ms=burn_ms, stop=stop))
        await asyncio.sleep(0.05)  # the first runaway is under way
        latencies = await victim(http, url, kind, victim_path, window)
        stop.set()
        await attacker
        loud = p99(latencies)
        figures[f"{prefix}p99_ratio"], figures[f"{prefix}p99_runaway_ms"] = loud / quiet, loud * 1000
        figures[f"{prefix}max_runaway_ms"] = max(latencies) * 1000
    return figures


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
