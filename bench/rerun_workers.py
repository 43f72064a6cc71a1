"""Re-runs on worker processes: a read-heavy load's throughput with processes ÷ without.

    python bench/rerun_workers.py [--processes 0,1] [--viewers 40] [--items 300] [--seconds 5] [--trials 3]

Starts the working tree's server on ``bench/apps/reads`` once per ``OPENCOM_RERUN_PROCESSES`` value
in ``--processes`` (0: every re-run on the event loop, as without worker processes). ``--viewers``
sync connections each subscribe to their own ``board:summary`` (distinct arguments: nothing is
shared), and a writer bumps an item every ``BUMP_INTERVAL_S``: every bump invalidates every
subscription, so the server's work is re-runs, and the more it gets done the fresher the viewers.
Trials run each server in turn (interleaved). Per setting, median [min-max] over the trials of
``reruns_per_s`` (query executions per second, from the server's stats), ``updates_per_s``
(Transitions the viewers received per second), ``server_cores`` (CPU seconds per wall second of the
server and its worker processes), ``reruns_per_cpu_s`` (what the work costs, whatever share of the
cores a shared machine gave the server) and ``throughput_ratio``: reruns_per_s ÷ the same trial's
with the first setting (``--processes`` lists it first, 0 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versions import REPO, process_tree_cpu, running_server, spread  # noqa: E402
from runtime.tokens.admin_key import read_admin_key  # noqa: E402

APP = REPO / "bench" / "apps" / "reads"
BUMP_INTERVAL_S = 0.01  # between two writes by the writer: far more often than the re-runs can follow


async def call(http: aiohttp.ClientSession, url: str, kind: str, path: str, args: dict[str, Any]) -> Any:
    async with http.post(f"{url}/api/{kind}", json={"path": path, "args": args, "format": "json"}) as response:
        body = await response.json()
        assert body["status"] == "success", body
        return body["value"]


async def viewer(http: aiohttp.ClientSession, url: str, number: int, updates: list[int], ready: asyncio.Event) -> None:
    """Subscribe to this viewer's summary; count every Transition that changes it."""
    async with http.ws_connect(url.replace("http", "ws", 1) + "/api/sync") as socket:
        await socket.send_json({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                                "lastCloseReason": "InitialConnect", "clientTs": 0})  # fmt: skip
        add = {"type": "Add", "queryId": 0, "udfPath": "board:summary", "args": [{"viewer": float(number)}]}
        await socket.send_json({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]})
        first = True
        async for message in socket:
            frame = message.json()
            if frame["type"] == "Transition" and frame["modifications"]:
                if first:
                    first = False
                    ready.set()
                updates[0] += 1


async def writer(http: aiohttp.ClientSession, url: str, items: int, stop: asyncio.Event) -> None:
    number = 0
    while not stop.is_set():
        started = time.perf_counter()
        await call(http, url, "mutation", "board:bump", {"number": float(number % items)})
        number += 7
        await asyncio.sleep(max(0.0, BUMP_INTERVAL_S - (time.perf_counter() - started)))


async def stats(http: aiohttp.ClientSession, url: str, admin_key: str) -> dict[str, Any]:
    async with http.get(f"{url}/api/_opencom/stats", headers={"Authorization": f"Convex {admin_key}"}) as response:
        return await response.json()


async def trial(http: aiohttp.ClientSession, url: str, pid: int, admin_key: str, options: argparse.Namespace) -> dict[str, float]:
    updates = [0]
    readies = [asyncio.Event() for _ in range(options.viewers)]
    viewers = [asyncio.create_task(viewer(http, url, number, updates, readies[number])) for number in range(options.viewers)]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer(http, url, options.items, stop))
    await asyncio.sleep(1.0)  # into the steady state
    before, cpu_before, updates_before, started = await stats(http, url, admin_key), process_tree_cpu(pid), updates[0], time.perf_counter()
    await asyncio.sleep(options.seconds)
    after, cpu_after, updates_after, wall = await stats(http, url, admin_key), process_tree_cpu(pid), updates[0], time.perf_counter() - started
    stop.set()
    await writing
    for task in viewers:
        task.cancel()
    await asyncio.gather(*viewers, return_exceptions=True)
    reruns = after["queryExecutions"] - before["queryExecutions"]
    return {
        "reruns_per_s": reruns / wall,
        "updates_per_s": (updates_after - updates_before) / wall,
        "server_cores": (cpu_after - cpu_before) / wall,
        "reruns_per_cpu_s": reruns / max(cpu_after - cpu_before, 1e-9),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="0,1", help="OPENCOM_RERUN_PROCESSES values, comma-separated")
    parser.add_argument("--viewers", type=int, default=40)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--trials", type=int, default=3)
    options = parser.parse_args()
    settings = [int(value) for value in options.processes.split(",")]
    results: dict[int, dict[str, list[float]]] = {setting: {} for setting in settings}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        servers = {}
        for setting in settings:
            env = {"OPENCOM_RERUN_PROCESSES": str(setting)}
            url, pid = await stack.enter_async_context(running_server(REPO, APP, env))
            await call(http, url, "mutation", "board:seed", {"count": float(options.items)})
            servers[setting] = url, pid, await admin_key_of(pid)
        for _ in range(options.trials):
            for setting, (url, pid, admin_key) in servers.items():
                for metric, value in (await trial(http, url, pid, admin_key, options)).items():
                    results[setting].setdefault(metric, []).append(value)
    baseline = results[settings[0]]["reruns_per_s"]
    for setting, metrics in results.items():
        metrics["throughput_ratio"] = [ours / theirs for ours, theirs in zip(metrics["reruns_per_s"], baseline)]
        for metric, values in metrics.items():
            print(f"processes_{setting}_{metric}: {spread(values)}")


async def admin_key_of(pid: int) -> str:
    """The admin key of the server ``pid`` (its data directory is on its command line)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    data_dir = Path(argv[argv.index(b"--data") + 1].decode())
    key = read_admin_key(data_dir)
    assert key is not None
    return key


if __name__ == "__main__":
    asyncio.run(main())
