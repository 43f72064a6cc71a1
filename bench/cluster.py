"""The Opencom inbox served by 1, 2 and 3 servers on one PostgreSQL database, and by SQLite.

    python bench/cluster.py [--p99-ms 1000] [--visitors 10] [--repeats 3] [--database postgresql://…]

A read-heavy load: visitors send one message a second each over their own sync WebSocket, agents
hold a dashboard (``conversations:list`` of the workspace and ``messages:list`` of three watched
conversations: four subscriptions each), as in ``bench/opencom_load.py``, whose load generator this
reuses. Visitors and agents are spread round-robin over the servers, so most updates an agent
sees were committed by another server and reached it through the commit feed.

All four setups run at once, each on its own store: ``sqlite`` (one server), and ``pg1``, ``pg2``,
``pg3`` (that many servers on a fresh PostgreSQL database beside ``--database``, default
``$OPENCOM_TEST_POSTGRES_URL``, else the local server). Agents are added in steps of ×1.5; at each
step every setup still within the target is measured in turn, ``--repeats`` rounds, so a busy
moment of a shared machine hits them alike. A setup stays in while the median over rounds of the
p99 of "a watched visitor's message sent → an agent holding it" is within ``--p99-ms``:

- ``<setup>_subscriptions``: subscriptions (four per agent) served at its last step within the target;
- ``<setup>_cpu_per_send_ms``: CPU of all its server processes per message sent, at that step;
- ``<setup>_writes_per_s``: messages committed per second when every visitor sends back to back
  (before the agents join; median [min-max] over rounds): what taking turns at the writers' lock
  costs, or gives, across servers;
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

from bench.opencom_load import OpencomTarget, percentile, progress, run_phase  # noqa: E402
from bench.versions import process_tree_cpu, server_process  # noqa: E402
from runtime.tokens.admin_key import read_admin_key  # noqa: E402

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SETUPS = {"sqlite": 0, "pg1": 1, "pg2": 2, "pg3": 3}  # PostgreSQL servers per setup (0: one SQLite server)
SUBSCRIPTIONS_PER_AGENT = 4
FIRST_STEP = 8
DRAIN_S = 1.5
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
        return sum(process_tree_cpu(pid) for pid in self.pids)  # with their re-run worker processes


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


async def open_setup(stack: AsyncExitStack, setup: str, options: argparse.Namespace, admin_url: str) -> ClusterTarget:
    """``setup``'s servers on a fresh store, seeded, with its visitors connected (undone by ``stack``)."""
    url = None
    if SETUPS[setup]:
        database = f"opencom_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]
        stack.callback(drop_database, admin_url, database)
        url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{database}"))
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="opencom-cluster-bench-")))
    urls, pids = await start_servers(stack, directory, SETUPS[setup], url)
    session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
    admin_key = read_admin_key(directory)
    assert admin_key is not None
    target = ClusterTarget(urls, pids, admin_key, session)
    await target.seed(options.inbox)
    await target.add_visitors(options.visitors)
    progress(f"{setup}: {len(urls)} server(s) seeded, {options.visitors} visitors")
    return target


def drop_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # type: ignore[arg-type]


async def observe_p99(target: ClusterTarget, options: argparse.Namespace) -> tuple[float, float]:
    """One timed phase: the observe p99 (ms) and the servers' CPU per message sent (ms)."""
    await asyncio.sleep(DRAIN_S)  # the setup measured before catches up on its backlog first
    cpu_before = target.cpu()
    figures = await run_phase(target, options.visitors, options.seconds)
    sends = figures["per_s"] * options.seconds
    return percentile(target.phase.observed, 0.99) * 1000, (target.cpu() - cpu_before) / max(sends, 1) * 1000


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


async def run(options: argparse.Namespace) -> None:
    admin_url = options.database or os.environ.get("OPENCOM_TEST_POSTGRES_URL") or LOCAL_POSTGRES
    async with AsyncExitStack() as stack:
        targets = {setup: await open_setup(stack, setup, options, admin_url) for setup in SETUPS}
        writes: dict[str, list[float]] = {setup: [] for setup in SETUPS}
        for _ in range(options.repeats):  # the setups in turn, each round
            for setup, target in targets.items():
                writes[setup].append(await saturated_writes(target, options.seconds))
        served = {setup: 0 for setup in SETUPS}
        cpu: dict[str, float] = {setup: float("nan") for setup in SETUPS}
        within = set(SETUPS)
        agents = FIRST_STEP
        while within and agents <= options.max_agents:
            for setup in within:
                await targets[setup].add_agents(agents)
                await run_phase(targets[setup], options.visitors, 1.0)  # settle the new agents
            rounds: dict[str, list[tuple[float, float]]] = {setup: [] for setup in within}
            for _ in range(options.repeats):  # the setups in turn, each round
                for setup in within:
                    rounds[setup].append(await observe_p99(targets[setup], options))
            for setup, figures in rounds.items():
                p99_ms = statistics.median(p99 for p99, _ in figures)
                progress(f"{setup}: {agents} agents, observe p99 {spread([p99 for p99, _ in figures])} ms")
                if p99_ms <= options.p99_ms:
                    served[setup] = agents * SUBSCRIPTIONS_PER_AGENT
                    cpu[setup] = statistics.median(per_send for _, per_send in figures)
                else:
                    within.discard(setup)
            agents = round(agents * STEP_GROWTH)
    for setup in SETUPS:
        print(f"{setup}_subscriptions: {served[setup]}", flush=True)
        print(f"{setup}_cpu_per_send_ms: {cpu[setup]:.1f}", flush=True)
        print(f"{setup}_writes_per_s: {spread(writes[setup])}", flush=True)

    def ratio(top: str, bottom: str) -> str:
        return f"{served[top] / served[bottom]:.2f}" if served[bottom] else "nan"

    print(f"scale_2_over_1: {ratio('pg2', 'pg1')}")
    print(f"scale_3_over_1: {ratio('pg3', 'pg1')}")
    print(f"postgres_over_sqlite: {ratio('pg1', 'sqlite')}")
    print(f"writes_3_over_1: {spread([a / b for a, b in zip(writes['pg3'], writes['pg1'])])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p99-ms", type=float, default=1000.0, help="the observe-latency p99 to stay within")
    parser.add_argument("--visitors", type=int, default=10, help="visitors sending one message a second each")
    parser.add_argument("--max-agents", type=int, default=140, help="stop adding agents here")
    parser.add_argument("--inbox", type=int, default=30, help="conversations seeded before measuring")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed phase")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the four setups at each step")
    parser.add_argument("--database", help="a PostgreSQL URL whose server hosts the benchmark's databases")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
