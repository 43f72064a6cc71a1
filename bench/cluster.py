"""The Opencom inbox served by 1, 2 and 3 servers on one PostgreSQL database, and by SQLite.

    python bench/cluster.py [--p99-ms 400] [--visitors 30] [--max-agents 256] [--repeats 1] [--database postgresql://…]

A read-heavy load: visitors send one message a second each over their own sync WebSocket, agents
hold a dashboard (``conversations:list`` of the workspace and ``messages:list`` of three watched
conversations: four subscriptions each), as in ``bench/opencom_load.py``, whose load generator this
reuses. Visitors and agents are spread round-robin over the servers, so most updates an agent
sees were committed by another server and reached it through the commit feed.

For each setup (``sqlite`` one server; ``pg1``, ``pg2``, ``pg3``: that many servers on a fresh
PostgreSQL database beside ``--database``, default ``$OPENCOM_TEST_POSTGRES_URL``, else the local
server), agents are added in steps of ×1.5 while the p99 of "a watched visitor's message sent →
an agent holding it" stays within ``--p99-ms``; the figure is the subscriptions served at the last
step within it. Setups run in turn, ``--repeats`` times each, and print median [min-max]:

- ``<setup>_subscriptions``: subscriptions served within the p99 target;
- ``<setup>_cpu_per_send_ms``: CPU of all its server processes per message sent, at that step;
- ``<setup>_writes_per_s``: messages committed per second when every visitor sends back to back
  (before the agents join): what taking turns at the writers' lock costs, or gives, across servers;
- ``scale_2_over_1`` / ``scale_3_over_1``: subscriptions of ``pg2`` / ``pg3`` ÷ ``pg1``;
- ``postgres_over_sqlite``: subscriptions of ``pg1`` ÷ ``sqlite``;
- ``writes_3_over_1``: ``pg3_writes_per_s`` ÷ ``pg1_writes_per_s``.

On a machine with two cores, three servers, PostgreSQL and the load generator share them: the
ratios show whether the design scales out, not what more machines would give.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.opencom_load import OpencomTarget, percentile, process_cpu, progress, run_phase  # noqa: E402
from bench.versions import server_process  # noqa: E402
from runtime.admin_key import read_admin_key  # noqa: E402

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SETUPS = {"sqlite": 0, "pg1": 1, "pg2": 2, "pg3": 3}  # PostgreSQL servers per setup (0: one SQLite server)
SUBSCRIPTIONS_PER_AGENT = 4
FIRST_STEP = 8
STEP_GROWTH = 1.5  # agents added per step: ×1.5, fine enough to tell setups apart


class ClusterTarget(OpencomTarget):
    """``OpencomTarget`` whose visitors and agents are spread round-robin over several servers."""

    def __init__(self, urls: list[str], pids: list[int], admin_key: str, session: aiohttp.ClientSession) -> None:
        super().__init__(urls[0], admin_key, session)
        self.urls, self.pids, self.pid = urls, pids, pids[0]

    async def add_visitors(self, count: int) -> None:
        while len(self.visitors) < count:
            self.url = self.urls[len(self.visitors) % len(self.urls)]
            await super().add_visitors(len(self.visitors) + 1)

    async def add_agents(self, count: int) -> None:
        while len(self.agents) < count:
            self.url = self.urls[(len(self.agents) + 1) % len(self.urls)]  # not the node of the first visitor
            await super().add_agents(len(self.agents) + 1)

    def cpu(self) -> float:
        return sum(process_cpu(pid) for pid in self.pids)


async def start_servers(stack: AsyncExitStack, data: Path, count: int, url: str | None) -> tuple[list[str], list[int]]:
    """``count`` servers on the Opencom app (one SQLite server when ``url`` is None); their URLs and pids."""
    environment = {**os.environ, "OPENCOM_SQLITE_SYNCHRONOUS": "FULL"}
    if url is not None:
        environment["OPENCOM_DATABASE_URL"] = url
    argv = [sys.executable, "-m", "runtime.server", "--app", str(REPO), "--data", str(data),
            "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
    urls, pids = [], []
    for _ in range(max(count, 1)):
        node_url, pid = await stack.enter_async_context(server_process(argv, env=environment))
        urls.append(node_url)
        pids.append(pid)
    return urls, pids


async def saturated_writes(target: ClusterTarget, seconds: float) -> float:
    """Messages committed per second with every visitor sending back to back."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    sent = 0

    async def visitor(index: int) -> None:
        nonlocal sent
        while loop.time() < deadline:
            await target.send(index, f"burst-{index}-{sent}")
            sent += 1

    await asyncio.gather(*(visitor(index) for index in range(len(target.visitors))))
    return sent / seconds


async def capacity(setup: str, options: argparse.Namespace, admin_url: str) -> tuple[int, float, float]:
    """Subscriptions served within the p99 target by ``setup``, the CPU per send at that step, and
    the saturated write rate."""
    database = f"opencom_bench_{secrets.token_hex(4)}"
    url = None
    if SETUPS[setup]:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]
        url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{database}"))
    try:
        with tempfile.TemporaryDirectory(prefix="opencom-cluster-bench-") as directory:
            async with AsyncExitStack() as stack:
                urls, pids = await start_servers(stack, Path(directory), SETUPS[setup], url)
                connector = aiohttp.TCPConnector(limit=0)
                session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
                admin_key = read_admin_key(Path(directory))
                assert admin_key is not None
                target = ClusterTarget(urls, pids, admin_key, session)
                await target.seed(options.inbox)
                await target.add_visitors(options.visitors)
                writes = await saturated_writes(target, options.seconds)
                progress(f"{setup}: {writes:.0f} writes/s back to back")
                return (*await ramp(setup, target, options), writes)
    finally:
        if url is not None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # type: ignore[arg-type]


async def ramp(setup: str, target: ClusterTarget, options: argparse.Namespace) -> tuple[int, float]:
    served, cpu_per_send = 0, float("nan")
    agents = FIRST_STEP
    while agents <= options.max_agents:
        await target.add_agents(agents)
        await run_phase(target, options.visitors, 1.0)  # settle the new agents
        cpu_before = target.cpu()
        figures = await run_phase(target, options.visitors, options.seconds)
        cpu = target.cpu() - cpu_before
        p99_ms = percentile(target.phase.observed, 0.99) * 1000
        sends = figures["per_s"] * options.seconds
        progress(f"{setup}: {agents} agents, observe p99 {p99_ms:.0f} ms, {figures['per_s']:.0f} sends/s")
        if not p99_ms <= options.p99_ms:
            break
        served, cpu_per_send = agents * SUBSCRIPTIONS_PER_AGENT, cpu / max(sends, 1) * 1000
        agents = round(agents * STEP_GROWTH)
    return served, cpu_per_send


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


async def run(options: argparse.Namespace) -> None:
    admin_url = options.database or os.environ.get("OPENCOM_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    served: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    cpu: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    writes: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    for _ in range(options.repeats):
        for setup in SETUPS:
            subscriptions, cpu_per_send, per_s = await capacity(setup, options, admin_url)
            served[setup].append(subscriptions)
            cpu[setup].append(cpu_per_send)
            writes[setup].append(per_s)
    for setup in SETUPS:
        print(f"{setup}_subscriptions: {spread(served[setup])}", flush=True)
        print(f"{setup}_cpu_per_send_ms: {spread(cpu[setup])}", flush=True)
        print(f"{setup}_writes_per_s: {spread(writes[setup])}", flush=True)

    def ratio(figures: dict[str, list[float]], top: str, bottom: str) -> str:
        return spread([a / b if b else float("nan") for a, b in zip(figures[top], figures[bottom])])

    print(f"scale_2_over_1: {ratio(served, 'pg2', 'pg1')}")
    print(f"scale_3_over_1: {ratio(served, 'pg3', 'pg1')}")
    print(f"postgres_over_sqlite: {ratio(served, 'pg1', 'sqlite')}")
    print(f"writes_3_over_1: {ratio(writes, 'pg3', 'pg1')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p99-ms", type=float, default=400.0, help="the observe-latency p99 to stay within")
    parser.add_argument("--visitors", type=int, default=30, help="visitors sending one message a second each")
    parser.add_argument("--max-agents", type=int, default=256, help="stop adding agents here")
    parser.add_argument("--inbox", type=int, default=200, help="conversations seeded before measuring")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each timed step")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over the four setups")
    parser.add_argument("--database", help="a PostgreSQL URL whose server hosts the benchmark's databases")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
