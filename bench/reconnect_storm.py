"""A reconnect storm on the widget, beside a minimal aiohttp + sqlite3 server measured in the same run.

    python bench/reconnect_storm.py [--clients 1000] [--repeats 3] [--quick] [--cold]

Starts the real server on the Opencom app (the repository root) and seeds ``--clients`` widget
visitors, each with a booted session and one conversation, before anything is timed. Then all of
them reconnect at once over the sync WebSocket: ``Connect``, then one ``ModifyQuerySet`` adding the
five queries the widget subscribes as it loads (the shell's ``workspaces:get``,
``workspaces:validateOrigin`` and ``messengerSettings:getPublicSettings``, the messenger's
``conversations:listByVisitor`` and ``conversations:getTotalUnreadForVisitor``). A client is served
when Transitions have carried all five results.

The thin baseline (this file, ``--thin-server``) answers one WebSocket frame per client with the same
five reads from sqlite3: the session token's visitor, the workspace, its origin check, its messenger
settings, the visitor's conversations and their unread total, as one JSON message. Its rows hold the
very documents the Opencom server returned in the warm-up storm, so both send the same bytes.

Between storms the server keeps the results nobody watches any more until a commit touches them
(``knobs.SYNC_RETAINED_QUERIES``), as Convex keeps its query cache: a reconnecting widget is then
served without runs. ``--cold`` starts it retaining nothing, so that every storm runs all five
queries of every client, as after a server restart.

Subject (opencom) and baseline (thin) storms alternate, ``--repeats`` times each, and every figure
is printed as median [min-max] over the repeats:

- ``server_cpu_ratio``: the server's CPU seconds (its re-run worker processes included) per client
  served ÷ the thin server's; the disk plays no part, the storm only reads;
- ``first_results_p50_ratio`` / ``first_results_p99_ratio``: a client's time from the storm's start
  to holding all five results, p50 and p99, ÷ the thin server's. Both servers listen with aiohttp's
  accept queue of 128, so at 1,000 clients the kernel drops SYNs (retransmitted after 1 s) or resets
  connections (the client retries after a random pause under ``RECONNECT_BACKOFF_S``, counted in
  ``reconnects``) for both alike: these ratios then approach 1 and say little; read them at
  ``--quick``, the CPU ratio at either size;
- ``served_s``: seconds until the last client was served; ``load_generator_cores``: this
  process's CPU per wall second, to show the clients were not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.opencom_load import Agent, OpencomTarget, Phase, SyncSocket, bounded, percentile, progress, spread  # noqa: E402
from bench.versions import process_tree_cpu, server_process  # noqa: E402
from runtime.tokens.admin_key import read_admin_key  # noqa: E402

ORIGIN = "https://shop.example"
QUERIES = (
    "workspaces:get",
    "workspaces:validateOrigin",
    "messengerSettings:getPublicSettings",
    "conversations:listByVisitor",
    "conversations:getTotalUnreadForVisitor",
)
SEED_CONCURRENCY = 16
STORM_TIMEOUT_S = 120.0
RECONNECT_ATTEMPTS = 10
RECONNECT_BACKOFF_S = 0.5
SETTLE_S = 1.0  # after a storm's sockets close, so their teardown is not billed to the next storm
IDLE_WINDOW_S = 0.5  # the server counts as idle once it used under IDLE_CORES of CPU over such a window
IDLE_CORES = 0.05
IDLE_TIMEOUT_S = 120.0


# --- the thin baseline server ------------------------------------------------------------------


THIN_SCHEMA = """
CREATE TABLE workspaces (id TEXT PRIMARY KEY, document TEXT, origin_check TEXT);
CREATE TABLE messenger_settings (workspace TEXT PRIMARY KEY, document TEXT);
CREATE TABLE sessions (token TEXT PRIMARY KEY, visitor TEXT, workspace TEXT);
CREATE TABLE conversations (id TEXT PRIMARY KEY, visitor TEXT, unread INTEGER, document TEXT);
CREATE INDEX conversations_by_visitor ON conversations (visitor);
"""


def widget_reads(connection: sqlite3.Connection, frame: dict[str, Any]) -> dict[str, Any]:
    """The five reads of a loading widget, from the rows the Opencom server's answers were copied into."""
    session = connection.execute(
        "SELECT visitor, workspace FROM sessions WHERE token = ?", (frame["sessionToken"],)
    ).fetchone()
    if session is None or session[0] != frame["visitorId"]:
        raise ValueError("unknown session")
    workspace = connection.execute(
        "SELECT document, origin_check FROM workspaces WHERE id = ?", (frame["workspaceId"],)
    ).fetchone()
    settings = connection.execute(
        "SELECT document FROM messenger_settings WHERE workspace = ?", (frame["workspaceId"],)
    ).fetchone()
    conversations = connection.execute(
        "SELECT document, unread FROM conversations WHERE visitor = ?", (session[0],)
    ).fetchall()
    return {
        "workspace": json.loads(workspace[0]),
        "origin": json.loads(workspace[1]),
        "settings": json.loads(settings[0]),
        "conversations": [json.loads(document) for document, _ in conversations],
        "unread": sum(unread for _, unread in conversations),
    }


async def run_thin_server(data_dir: str) -> None:
    """WS ``/api/sync``: one frame ``{"workspaceId", "visitorId", "sessionToken"}`` is answered with the five reads."""
    connection = sqlite3.connect(Path(data_dir) / "thin.sqlite3", check_same_thread=False)

    async def widget(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            await socket.send_str(json.dumps(widget_reads(connection, json.loads(message.data))))
        return socket

    app = web.Application()
    app.router.add_get("/api/sync", widget)  # the path the storm clients upgrade
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"thin server ready at http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def write_thin_database(path: Path, workspace_id: str, visitors: list[dict[str, Any]], answers: list[dict[str, Any]]) -> None:
    """The thin server's rows: the documents the Opencom server answered with, one row per document."""
    connection = sqlite3.connect(path)
    connection.executescript(THIN_SCHEMA)
    first = answers[0]
    connection.execute(
        "INSERT INTO workspaces VALUES (?, ?, ?)",
        (workspace_id, json.dumps(first["workspaces:get"]), json.dumps(first["workspaces:validateOrigin"])),
    )
    connection.execute(
        "INSERT INTO messenger_settings VALUES (?, ?)",
        (workspace_id, json.dumps(first["messengerSettings:getPublicSettings"])),
    )
    for visitor, answer in zip(visitors, answers, strict=True):
        if answer["workspaces:get"] is None or not answer["conversations:listByVisitor"]:
            raise RuntimeError(f"the warm-up storm read no workspace or no conversation: {answer}")
        connection.execute("INSERT INTO sessions VALUES (?, ?, ?)", (visitor["sessionToken"], visitor["visitorId"], workspace_id))
        for conversation in answer["conversations:listByVisitor"]:
            connection.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?)",
                (conversation["_id"], visitor["visitorId"], 0, json.dumps(conversation)),
            )
    connection.commit()
    connection.close()


# --- the storm ---------------------------------------------------------------------------------


class StormClient(Agent):
    """One widget on a bare WebSocket, served once its answer (Convex: all five query results) is in.

    It reuses the load bench's hand-rolled framing so that a thousand clients cost this process far
    less than they cost the server being measured.
    """

    def __init__(self, phase_of: Callable[[], Phase]) -> None:
        super().__init__(phase_of)
        self.served_at = 0.0
        self.served = asyncio.Event()
        self.answers: dict[str, Any] = {}
        self.failure = ""
        self.lost = False

    def _frame(self, payload: bytes) -> None:
        if self.served.is_set():
            return
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "Transition":
            for modification in frame["modifications"]:
                path = QUERIES[modification["queryId"]]
                if modification["type"] == "QueryUpdated":
                    self.answers[path] = modification["value"]
                elif modification["type"] == "QueryFailed":
                    self.failure = f"{path}: {modification.get('errorMessage')}"
            if len(self.answers) < len(QUERIES) and not self.failure:
                return
        elif kind is None:  # the thin server's one answer
            self.answers = frame
        elif kind in ("FatalError", "AuthError"):
            self.failure = f"{kind}: {frame}"
        else:
            return
        self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.served.is_set():
            self.lost = True
            self.failure = f"connection lost before all results: {exc}"
            self._serve()

    def _serve(self) -> None:
        self.served_at = time.perf_counter()
        self.served.set()


def convex_frames(workspace_id: str, visitor: dict[str, Any]) -> list[str]:
    """What a reconnecting widget sends: ``Connect``, then its five queries in one ``ModifyQuerySet``."""
    common = {"visitorId": visitor["visitorId"], "sessionToken": visitor["sessionToken"], "workspaceId": workspace_id}
    arguments = (
        {"id": workspace_id},
        {"workspaceId": workspace_id, "origin": ORIGIN},
        {"workspaceId": workspace_id},
        common,
        common,
    )
    modifications = [
        {"type": "Add", "queryId": index, "udfPath": path, "args": [args]}
        for index, (path, args) in enumerate(zip(QUERIES, arguments, strict=True))
    ]
    connect = {"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 1,
               "lastCloseReason": "closed with code 1006", "clientTs": int(time.time() * 1000)}  # fmt: skip
    query_set = {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": modifications}
    return [json.dumps(connect), json.dumps(query_set)]


def thin_frames(workspace_id: str, visitor: dict[str, Any]) -> list[str]:
    """The thin server's one request: whose widget is loading."""
    return [json.dumps({"workspaceId": workspace_id, "visitorId": visitor["visitorId"], "sessionToken": visitor["sessionToken"]})]


async def reconnect(url: str, frames: list[str], opened: list[StormClient]) -> tuple[StormClient, int]:
    """One widget until served: a connection the server's full accept queue resets is retried after
    a short random pause, as the Convex client retries; returns the client and its retries."""
    for retries in range(RECONNECT_ATTEMPTS):
        try:
            client = await StormClient.open(url, Phase, frames)
        except OSError:
            await asyncio.sleep(random.uniform(0, RECONNECT_BACKOFF_S))
            continue
        opened.append(client)
        await client.served.wait()
        if not client.lost:
            return client, retries
        await asyncio.sleep(random.uniform(0, RECONNECT_BACKOFF_S))
    raise RuntimeError(f"a widget was not served after {RECONNECT_ATTEMPTS} connections")


async def storm(url: str, pid: int, frames: list[list[str]]) -> tuple[dict[str, float], list[StormClient]]:
    """Every client connects at once and sends its frames; each waits from the storm's start until served."""
    opened: list[StormClient] = []
    cpu_before, client_before, started = process_tree_cpu(pid), time.process_time(), time.perf_counter()
    try:
        everyone = asyncio.gather(*(reconnect(url, client_frames, opened) for client_frames in frames))
        try:
            served = await asyncio.wait_for(everyone, STORM_TIMEOUT_S)
        except TimeoutError:
            waiting = sum(not client.served.is_set() for client in opened)
            raise RuntimeError(f"{waiting} open clients still unserved after {STORM_TIMEOUT_S:.0f} s") from None
        wall = time.perf_counter() - started
        cpu, client_cpu = process_tree_cpu(pid) - cpu_before, time.process_time() - client_before
    finally:
        for client in opened:
            await client.close()
    clients = [client for client, _ in served]
    failures = [client.failure for client in clients if client.failure]
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(clients)} clients failed, first: {failures[0]}")
    waits = [client.served_at - started for client in clients]
    await asyncio.sleep(SETTLE_S)
    figures = {
        "cpu_per_client_ms": cpu / len(clients) * 1000,
        "cpu_s": cpu,
        "p50_ms": percentile(waits, 0.5) * 1000,
        "p99_ms": percentile(waits, 0.99) * 1000,
        "served_s": wall,
        "client_cores": client_cpu / wall,
        "retries": sum(retries for _, retries in served),
    }
    return figures, clients


# --- the run -----------------------------------------------------------------------------------


async def until_idle(pid: int) -> None:
    """Wait until the server is idle: the jobs seeding scheduled (notification fan-outs) are done,
    so that no storm is billed for them."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while time.monotonic() < deadline:
        before = process_tree_cpu(pid)
        await asyncio.sleep(IDLE_WINDOW_S)
        if process_tree_cpu(pid) - before < IDLE_CORES * IDLE_WINDOW_S:
            return
    raise RuntimeError(f"the server was still busy {IDLE_TIMEOUT_S:.0f} s after seeding")


async def seed_visitors(opencom: OpencomTarget, count: int) -> list[dict[str, Any]]:
    """``count`` visitors with a booted widget session and one conversation each (not timed)."""
    visitors: list[dict[str, Any]] = []

    async def one() -> None:
        socket = await SyncSocket.open(opencom.session, opencom.url)
        try:
            args = await opencom._visitor_conversation(socket)
        finally:
            await socket.close()
        visitors.append({"visitorId": args["senderId"], "sessionToken": args["sessionToken"]})

    await bounded(SEED_CONCURRENCY, [one for _ in range(count)])
    return visitors


async def run(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        opencom_dir, thin_dir = Path(data_dir) / "opencom", Path(data_dir) / "thin"
        thin_dir.mkdir()
        argv = [sys.executable, "-m", "runtime.server", "--app", str(REPO), "--data", str(opencom_dir),
                "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
        env = {**os.environ, "OPENCOM_SYNC_RETAINED_QUERIES": "0"} if options.cold else None
        async with AsyncExitStack() as stack:
            url, pid = await stack.enter_async_context(server_process(argv, env=env))
            session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
            admin_key = read_admin_key(opencom_dir)
            assert admin_key is not None
            opencom = OpencomTarget(url, admin_key, session)
            await opencom.seed(0)
            visitors = await seed_visitors(opencom, options.clients)
            progress(f"seeded {len(visitors)} visitors with a session and a conversation each")
            await until_idle(pid)
            workspace = opencom.workspace_id
            opencom_frames = [convex_frames(workspace, visitor) for visitor in visitors]
            _, warm_clients = await storm(url, pid, opencom_frames)
            write_thin_database(thin_dir / "thin.sqlite3", workspace, visitors, [client.answers for client in warm_clients])
            thin_url, thin_pid = await stack.enter_async_context(
                server_process([sys.executable, __file__, "--thin-server", str(thin_dir)])
            )
            thin = [thin_frames(workspace, visitor) for visitor in visitors]
            await storm(thin_url, thin_pid, thin)
            progress(f"warmed both servers; {options.repeats} storms of {len(visitors)} clients each")
            figures: dict[str, list[float]] = {}
            for _ in range(options.repeats):
                ours, _ = await storm(url, pid, opencom_frames)
                theirs, _ = await storm(thin_url, thin_pid, thin)
                for name, value in {
                    "server_cpu_ratio": ours["cpu_per_client_ms"] / theirs["cpu_per_client_ms"],
                    "first_results_p50_ratio": ours["p50_ms"] / theirs["p50_ms"],
                    "first_results_p99_ratio": ours["p99_ms"] / theirs["p99_ms"],
                    "server_cpu_s": ours["cpu_s"],
                    "server_cpu_per_client_ms": ours["cpu_per_client_ms"],
                    "thin_cpu_per_client_ms": theirs["cpu_per_client_ms"],
                    "first_results_p50_ms": ours["p50_ms"],
                    "first_results_p99_ms": ours["p99_ms"],
                    "thin_first_results_p50_ms": theirs["p50_ms"],
                    "thin_first_results_p99_ms": theirs["p99_ms"],
                    "served_s": ours["served_s"],
                    "thin_served_s": theirs["served_s"],
                    "load_generator_cores": ours["client_cores"],
                    "reconnects": ours["retries"],
                    "thin_reconnects": theirs["retries"],
                }.items():
                    figures.setdefault(name, []).append(value)
            for name, values in figures.items():
                print(f"storm_{len(visitors)}_{name}: {spread(values)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="widgets reconnecting at once")
    parser.add_argument("--repeats", type=int, default=3, help="subject/baseline storm pairs")
    parser.add_argument("--quick", action="store_true", help="200 clients (unless --clients is given)")
    parser.add_argument("--cold", action="store_true", help="the server retains no results between storms")
    parser.add_argument("--thin-server", metavar="DIR", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.quick and "--clients" not in sys.argv:
        options.clients = 200
    if options.thin_server:
        asyncio.run(run_thin_server(options.thin_server))
    else:
        asyncio.run(run(options))


if __name__ == "__main__":
    main()
