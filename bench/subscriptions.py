"""How fast the sync layer is, each number beside a baseline measured in the same run.

    python bench/subscriptions.py [--sections latency,fanout,unaffected,mutations] [--subscribers 1000]

Starts the real server (``python -m runtime.server``) on ``bench/apps/feed`` in a subprocess, and a
raw aiohttp WebSocket server (this file with ``--raw-server``) as the floor nothing built on aiohttp
can beat. Prints one ``name: value`` line per number:

- ``observe_latency_p50_ms`` / ``_p99_ms``: a mutation sent → one subscriber (our client) holding the
  update, with a writer at 50 mutations/s; beside ``ws_rtt_p50_ms``, a raw aiohttp echo round trip.
- ``fanout_ratio``: one mutation's update reaching N WebSocket subscribers of one query ÷ the raw
  server broadcasting the same bytes to N sockets, median [min-max] over rounds that alternate the
  two (target ≤ 1.2), and ``fanout_cpu_ratio``, the two servers' CPU over those rounds (a busy
  machine moves wall times, not CPU; re-runs in worker processes are not counted);
  ``query_runs_per_invalidation`` from the server's stats endpoint (target exactly 1).
- ``unaffected_ratio``: mutation throughput with 10,000 live subscriptions on other documents ÷ with
  none (target ≥ 0.9).
- ``ws_mutation_ratio``: ``messages:send`` throughput from 32 WebSocket clients ÷ raw single-row
  SQLite commits on this machine (target ≥ 0.5), median [min-max] over rounds that alternate the
  two; both wait on fsync, whose rate here swings 10× within seconds, so beside it
  ``ws_mutation_cpu_ratio``: the server's CPU per mutation ÷ raw SQLite's CPU per commit, which a
  slow disk does not move.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.versions import server_process  # noqa: E402
from client import AsyncConvexClient  # noqa: E402
from runtime import knobs  # noqa: E402
from runtime.tokens.admin_key import read_admin_key  # noqa: E402

APP = REPO / "bench" / "apps" / "feed"
SECTIONS = ("latency", "fanout", "unaffected", "mutations")
WAIT_TIMEOUT_S = 60.0  # bound of any single wait for an update
FANOUT_QUERY = ("messages:latest", {"count": 10.0})


# --- processes ---------------------------------------------------------------------------------


def opencom_server(data_dir: str) -> list[str]:
    return [sys.executable, "-m", "runtime.server", "--app", str(APP), "--data", data_dir,
            "--host", "127.0.0.1", "--port", "0"]  # fmt: skip


def raw_server() -> list[str]:
    return [sys.executable, __file__, "--raw-server"]


# --- the raw aiohttp floor ---------------------------------------------------------------------


async def run_raw_server() -> None:
    """``/echo`` answers every frame with itself; a frame on ``/trigger`` is broadcast to ``/fanout``."""
    listeners: list[web.WebSocketResponse] = []

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    async def fanout(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        listeners.append(ws)
        async for _ in ws:
            pass
        listeners.remove(ws)
        return ws

    async def trigger(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            for listener in listeners:
                await listener.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/fanout", fanout)
    app.router.add_get("/trigger", trigger)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"raw server ready at http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


# --- raw protocol sockets (no client library in the way of fan-out timing) ---------------------


def ws_url(url: str, path: str) -> str:
    return url.replace("http://", "ws://", 1) + path


def connect_frame() -> str:
    """The ``Connect`` that opens a sync session (a fresh session id each time)."""
    return json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0, "clientTs": 0})


async def raw_subscriber(
    session: aiohttp.ClientSession, url: str, path: str, args: dict[str, Any]
) -> aiohttp.ClientWebSocketResponse:
    """A socket that has subscribed to ``path(args)`` and received the first result."""
    ws = await session.ws_connect(ws_url(url, "/api/sync"), max_msg_size=0)
    await ws.send_str(connect_frame())
    add = {"type": "Add", "queryId": 0, "udfPath": path, "args": [args], "journal": None}
    await ws.send_str(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]}))
    while True:
        message = await asyncio.wait_for(ws.receive(), WAIT_TIMEOUT_S)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"subscriber socket closed: {message}")
        if '"QueryUpdated"' in message.data:
            return ws


async def raw_writer(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(ws_url(url, "/api/sync"), max_msg_size=0)
    await ws.send_str(connect_frame())
    return ws


async def time_until_all_see(
    sockets: list[aiohttp.ClientWebSocketResponse], marker: str, send: Callable[[], Awaitable[None]]
) -> tuple[float, str]:
    """Seconds from ``send()`` until every socket received a frame containing ``marker``; and one such frame."""
    seen: list[str] = []

    async def watch(ws: aiohttp.ClientWebSocketResponse) -> float:
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed while waiting: {message}")
            if marker in message.data:
                if not seen:
                    seen.append(message.data)
                return time.perf_counter()

    watchers = [asyncio.create_task(watch(ws)) for ws in sockets]
    await asyncio.sleep(0)  # let every watcher start receiving before the clock starts
    started = time.perf_counter()
    await send()
    arrivals = await asyncio.wait_for(asyncio.gather(*watchers), WAIT_TIMEOUT_S)
    return max(arrivals) - started, seen[0]


# --- sections ----------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure_latency(url: str, raw_url: str, samples: int) -> dict[str, float]:
    """Mutation sent → subscriber holds it, at 50 writes/s; and the raw echo round trip."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    async with AsyncConvexClient(url) as reader, AsyncConvexClient(url) as writer:

        def observe(messages: list[dict[str, Any]]) -> None:
            now = time.perf_counter()
            for message in messages:
                started = sent.pop(message["body"], None)
                if started is not None:
                    latencies.append((now - started) * 1000)

        subscription = reader.subscribe("messages:latest", {"count": 20.0})
        await asyncio.wait_for(anext(subscription), WAIT_TIMEOUT_S)
        subscription.on_update(observe)
        await writer.query("messages:latest", {"count": 1.0})  # connected before the clock starts
        tasks = []
        start = time.perf_counter()
        for index in range(samples):
            await asyncio.sleep(max(0.0, start + index / 50 - time.perf_counter()))
            body = f"latency-{index}"
            sent[body] = time.perf_counter()
            tasks.append(asyncio.create_task(writer.mutation("messages:send", {"author": "bench", "body": body})))
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT_TIMEOUT_S)
        deadline = time.perf_counter() + 5
        while sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        subscription.unsubscribe()
    rtts = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(raw_url, "/echo")) as ws:
        frame = json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "messages:send",
                            "args": [{"author": "bench", "body": "x" * 16}]})  # fmt: skip
        for _ in range(samples):
            started = time.perf_counter()
            await ws.send_str(frame)
            await ws.receive()
            rtts.append((time.perf_counter() - started) * 1000)
    return {
        "observe_latency_p50_ms": percentile(latencies, 0.5),
        "observe_latency_p99_ms": percentile(latencies, 0.99),
        "observe_latency_lost_samples": float(samples - len(latencies)),
        "ws_rtt_p50_ms": percentile(rtts, 0.5),
    }


async def stats(session: aiohttp.ClientSession, url: str, admin_key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Convex {admin_key}"}
    async with session.get(url + "/api/_opencom/stats", headers=headers) as response:
        response.raise_for_status()
        result: dict[str, Any] = await response.json()
        return result


def query_runs(snapshot: dict[str, Any]) -> int:
    """Executions of the fan-out query so far, as the server counts them."""
    return int(snapshot["queryExecutionsByPath"].get(FANOUT_QUERY[0], 0))


async def measure_fanout(
    server: tuple[str, int], admin_key: str, raw: tuple[str, int], subscribers: int, rounds: int
) -> dict[str, Any]:
    """One mutation's update to N subscribers of one query, vs. a raw broadcast of the same frame.

    Both sets of N sockets stay open throughout and the rounds alternate (ours, raw, ours, …), so
    that the load of a shared machine weighs on both sides of each ratio alike. Each server's CPU
    is summed over its rounds (the kernel counts it in 10 ms ticks, too coarse for one round).
    """
    (url, pid), (raw_url, raw_pid) = server, raw
    path, args = FANOUT_QUERY
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [await raw_subscriber(session, url, path, args) for _ in range(subscribers)]
        writer = await raw_writer(session, url)
        listeners = [await session.ws_connect(ws_url(raw_url, "/fanout"), max_msg_size=0) for _ in range(subscribers)]
        trigger = await session.ws_connect(ws_url(raw_url, "/trigger"), max_msg_size=0)
        await asyncio.sleep(0.5)  # every listener registered on the raw server
        opencom_times: list[float] = []
        raw_times: list[float] = []
        runs_per_round: list[int] = []
        opencom_cpu = raw_cpu = 0.0
        for round_index in range(rounds):
            marker = f"fanout-{round_index:06d}-{uuid.uuid4().hex[:8]}"
            mutation = json.dumps({"type": "Mutation", "requestId": round_index, "udfPath": "messages:send",
                                   "args": [{"author": "bench", "body": marker}]})  # fmt: skip
            before = await stats(session, url, admin_key)
            cpu_before = process_cpu(pid)
            elapsed, frame = await time_until_all_see(sockets, marker, partial(writer.send_str, mutation))
            opencom_cpu += process_cpu(pid) - cpu_before
            opencom_times.append(elapsed)
            runs_per_round.append(query_runs(await stats(session, url, admin_key)) - query_runs(before))
            await asyncio.sleep(0.2)
            # The same bytes our subscribers got, with a fresh marker, from the raw server.
            raw_marker = f"fanout-{round_index:06d}-{uuid.uuid4().hex[:8]}"
            payload = frame.replace(marker, raw_marker)
            cpu_before = process_cpu(raw_pid)
            elapsed, _ = await time_until_all_see(listeners, raw_marker, partial(trigger.send_str, payload))
            raw_cpu += process_cpu(raw_pid) - cpu_before
            raw_times.append(elapsed)
            await asyncio.sleep(0.2)
        for ws in [*sockets, writer, *listeners, trigger]:
            await ws.close()
    return {
        "fanout_ms": statistics.median(opencom_times) * 1000,
        "raw_broadcast_ms": statistics.median(raw_times) * 1000,
        "fanout_ratio": spread([ours / raw for ours, raw in zip(opencom_times, raw_times)]),
        "fanout_cpu_ratio": opencom_cpu / max(raw_cpu, 1e-9),
        "query_runs_per_invalidation": statistics.median(runs_per_round),
    }


async def mutation_throughput(
    url: str, clients: int, seconds: float, path: str, make_args: Callable[[int, int], dict[str, Any]]
) -> float:
    """Mutations per second from ``clients`` clients each sending one after another for ``seconds``."""
    writers = [AsyncConvexClient(url) for _ in range(clients)]
    for index, writer in enumerate(writers):
        await writer.mutation(path, make_args(index, -1))  # connected and warm
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(index: int, writer: AsyncConvexClient) -> None:
        nonlocal done
        count = 0
        while time.perf_counter() < deadline:
            await writer.mutation(path, make_args(index, count))
            count += 1
        done += count

    started = time.perf_counter()
    await asyncio.gather(*(loop(index, writer) for index, writer in enumerate(writers)))
    elapsed = time.perf_counter() - started
    for writer in writers:
        await writer.close()
    return done / elapsed


def put_args(index: int, count: int) -> dict[str, Any]:
    return {"name": f"write-{index}-{count}-{uuid.uuid4().hex[:6]}", "value": float(count)}


async def measure_unaffected(url: str, subscriptions: int, seconds: float, rounds: int) -> dict[str, float]:
    """Mutation throughput with many live subscriptions on other documents ÷ with none.

    Phases alternate (quiet, busy, quiet, …) so that drift of the disk's speed hits both sides.
    """
    await mutation_throughput(url, 16, seconds / 2, "docs:put", put_args)  # warm-up, not counted
    quiet = [await mutation_throughput(url, 16, seconds, "docs:put", put_args)]
    busy = []
    per_client = 100
    for round_index in range(rounds):
        watchers = [AsyncConvexClient(url) for _ in range(max(1, subscriptions // per_client))]
        live = [
            watcher.subscribe("docs:get", {"name": f"watch-{round_index}-{index}-{slot}"})
            for index, watcher in enumerate(watchers)
            for slot in range(per_client)
        ]
        await asyncio.wait_for(asyncio.gather(*(anext(subscription) for subscription in live)), 300)
        busy.append(await mutation_throughput(url, 16, seconds, "docs:put", put_args))
        for watcher in watchers:
            await watcher.close()
        quiet.append(await mutation_throughput(url, 16, seconds, "docs:put", put_args))
    return {
        "mutations_per_s_without_subscriptions": statistics.median(quiet),
        "mutations_per_s_with_subscriptions": statistics.median(busy),
        "live_subscriptions": float(len(live)),
        "unaffected_ratio": statistics.median(busy) / statistics.median(quiet),
    }


def raw_sqlite_commits(seconds: float) -> tuple[float, float]:
    """Single-row INSERT + COMMIT in a loop on a fresh WAL database, with the server's durability.

    Returns (commits per second, CPU seconds per commit).
    """
    with tempfile.TemporaryDirectory() as directory:
        connection = sqlite3.connect(os.path.join(directory, "raw.sqlite3"), isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={knobs.SQLITE_SYNCHRONOUS}")
        connection.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, author TEXT, body TEXT)")
        count = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO messages (author, body) VALUES (?, ?)", ("bench", f"row {count}"))
            connection.execute("COMMIT")
            count += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        connection.close()
    return count / elapsed, cpu / max(count, 1)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spread(values: list[float]) -> str:
    """median [min-max] of one figure over the rounds."""
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


async def measure_mutations(url: str, pid: int, seconds: float, rounds: int) -> dict[str, Any]:
    """``messages:send`` from 32 WebSocket clients ÷ raw single-row SQLite commits, alternating."""

    def send_args(index: int, count: int) -> dict[str, Any]:
        return {"author": f"writer-{index}", "body": f"message {count}"}

    raw, ws, ratios, cpu_ratios = [], [], [], []
    for _ in range(rounds):
        raw_rate, raw_cpu = raw_sqlite_commits(seconds)
        cpu_before = process_cpu(pid)
        ws_rate = await mutation_throughput(url, 32, seconds, "messages:send", send_args)
        ws_cpu = (process_cpu(pid) - cpu_before) / max(ws_rate * seconds, 1.0)
        raw.append(raw_rate)
        ws.append(ws_rate)
        ratios.append(ws_rate / raw_rate)
        cpu_ratios.append(ws_cpu / raw_cpu)
    return {
        "ws_mutations_per_s": statistics.median(ws),
        "raw_sqlite_commits_per_s": statistics.median(raw),
        "ws_mutation_cpu_ratio": spread(cpu_ratios),
        "ws_mutation_ratio": spread(ratios),
    }


# --- main --------------------------------------------------------------------------------------


async def run(options: argparse.Namespace) -> None:
    sections = options.sections.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    with tempfile.TemporaryDirectory(prefix="opencom-bench-") as data_dir:
        async with (
            server_process(opencom_server(data_dir)) as (url, pid),
            server_process(raw_server()) as (raw_url, raw_pid),
        ):
            results: dict[str, Any] = {}
            if "latency" in sections:
                results |= await measure_latency(url, raw_url, options.latency_samples)
            if "fanout" in sections:
                admin_key = read_admin_key(Path(data_dir))
                assert admin_key is not None, "the server did not create its admin key"
                raw = (raw_url, raw_pid)
                results |= await measure_fanout((url, pid), admin_key, raw, options.subscribers, options.rounds)
            if "unaffected" in sections:
                results |= await measure_unaffected(url, options.live_subscriptions, options.seconds, options.rounds)
            if "mutations" in sections:
                results |= await measure_mutations(url, pid, options.seconds, options.rounds)
    for name, value in results.items():
        if isinstance(value, str):  # already median [min-max]
            print(f"{name}: {value}")
        else:
            print(f"{name}: {value:.3f}" if isinstance(value, float) and not value.is_integer() else f"{name}: {value:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS)
    )
    parser.add_argument("--subscribers", type=int, default=1000, help="fan-out subscribers of one query")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each comparison (medians are reported)")
    parser.add_argument("--live-subscriptions", type=int, default=10_000, help="subscriptions on untouched documents")
    parser.add_argument("--latency-samples", type=int, default=300, help="mutations observed at 50/s")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each throughput phase")
    parser.add_argument("--raw-server", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.raw_server:
        asyncio.run(run_raw_server())
    else:
        asyncio.run(run(options))


if __name__ == "__main__":
    main()
