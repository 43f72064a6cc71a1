"""The Opencom inbox under load, beside a minimal aiohttp + sqlite3 server measured in the same run.

    python bench/opencom_load.py [--loads 100/1,100/10,100/50,500/50] [--seconds 6] [--repeats 3]

Starts the real server on the Opencom app (the repository root) and, from this file
(``--thin-server``), a thin server that does what one ``messages:send`` writes (insert a message,
patch its conversation) with the same group commit: queued writes share one transaction, committed
on a thread. The workspace is seeded with an inbox of ``--inbox`` conversations.

For each load ``visitors/agents``: each visitor has booted a widget session and created a
conversation, then sends one message a second over its own sync WebSocket; each agent holds a sync
WebSocket subscribed to ``conversations:list`` and to ``messages:list`` of the first three visitors'
conversations. Subject (opencom) and baseline (thin) phases alternate, ``--repeats`` times each, and
every figure is printed as median [min-max] over the repeats. Both servers commit at
``--synchronous`` (FULL, as shipped): the fsync rate of a shared disk swings 10× within seconds,
so compare latency ratios at NORMAL, or beside the CPU figures, which the disk does not move:

- ``mutation_p50_ratio``: visitors' ``messages:send`` p50 latency ÷ the thin server's p50;
- ``observe_p50_ratio``: a watched visitor's message sent → an agent holding it, p50 ÷ thin mutation p50;
- ``throughput_ratio``: messages committed per second ÷ the thin server's (same offered load);
- ``server_cores`` / ``cpu_per_send_ratio``: the server's CPU seconds (its re-run worker processes included) per wall second, and
  its CPU per message ÷ the thin server's (CPU time is immune to a slow disk);
  ``load_generator_cores``: this process's, to show the load itself was not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.versions import process_tree_cpu, server_process  # noqa: E402
from runtime.tokens.admin_key import read_admin_key  # noqa: E402

WATCHED = 3  # conversations every agent watches with messages:list
SEED_CONCURRENCY = 16


# --- the thin baseline server ------------------------------------------------------------------


async def run_thin_server(data_dir: str, synchronous: str) -> None:
    """WS ``/send``: each frame ``{"id", "conversation", "content"}`` is committed, then answered with its id."""
    connection = sqlite3.connect(Path(data_dir) / "thin.sqlite3", isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, last REAL, unread REAL)")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation INTEGER, body BLOB, at REAL)"
    )
    connection.execute("CREATE INDEX IF NOT EXISTS by_conversation ON messages (conversation, at)")
    commit_thread = ThreadPoolExecutor(max_workers=1)
    queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None]]] = asyncio.Queue()

    async def writer() -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(0)
            while not queue.empty():
                batch.append(queue.get_nowait())
            connection.execute("BEGIN IMMEDIATE")
            for frame, _ in batch:
                now = time.time() * 1000.0
                conversation = int(frame["conversation"])
                connection.execute("INSERT OR IGNORE INTO conversations VALUES (?, 0, 0)", (conversation,))
                connection.execute(
                    "INSERT INTO messages (conversation, body, at) VALUES (?, ?, ?)",
                    (conversation, json.dumps(frame).encode(), now),
                )
                connection.execute(
                    "UPDATE conversations SET last = ?, unread = unread + 1 WHERE id = ?", (now, conversation)
                )
            await loop.run_in_executor(commit_thread, connection.execute, "COMMIT")
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def send(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            frame = json.loads(message.data)
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.put_nowait((frame, future))
            await future
            await socket.send_str(json.dumps({"id": frame["id"]}))
        return socket

    writer_task = asyncio.create_task(writer())
    app = web.Application()
    app.router.add_get("/send", send)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"thin server ready at http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        writer_task.cancel()


# --- measuring ---------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Phase:
    """What one timed phase collected."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.observed: list[float] = []
        self.sent_at: dict[str, float] = {}
        self.recording = False

    def summary(self, seconds: float, cpu: float, client_cpu: float) -> dict[str, float]:
        sends = len(self.latencies)
        return {
            "client_cores": client_cpu / seconds,
            "p50_ms": percentile(self.latencies, 0.5) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
            "observe_p50_ms": percentile(self.observed, 0.5) * 1000,
            "per_s": sends / seconds,
            "cores": cpu / seconds,
            "cpu_per_send_ms": cpu / max(sends, 1) * 1000,
        }


def convex_frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


class SyncSocket:
    """A raw sync connection: sends mutations and hands each ``MutationResponse`` to its waiter."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str) -> SyncSocket:
        socket = await session.ws_connect(url.replace("http://", "ws://") + "/api/sync", max_msg_size=0)
        await socket.send_str(convex_frame("Connect", sessionId=str(uuid.uuid4()), connectionCount=0, clientTs=0))
        return cls(socket)

    async def mutation(self, path: str, args: dict[str, Any]) -> Any:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        await self.socket.send_str(convex_frame("Mutation", requestId=request_id, udfPath=path, args=[args]))
        response = await future
        if not response["success"]:
            raise RuntimeError(f"{path} failed: {response['result']}")
        return response["result"]

    async def _read(self) -> None:
        async for message in self.socket:
            if '"MutationResponse"' in message.data[:40]:
                frame = json.loads(message.data)
                self._waiting.pop(frame["requestId"]).set_result(frame)

    async def close(self) -> None:
        self._reader.cancel()
        await self.socket.close()


class Agent(asyncio.Protocol):
    """An agent's dashboard on a bare WebSocket: the inbox and three conversations.

    It never decodes what it receives (an inbox of a thousand conversations arrives after every
    commit): each frame's bytes are only searched for the tags of messages sent in this phase, so
    the load generator stays far cheaper than the server it measures.
    """

    TAG = b'"content":"load-'

    def __init__(self, phase_of: Callable[[], Phase]) -> None:
        self.phase_of = phase_of
        self.seen: set[bytes] = set()
        self.ready = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False

    @classmethod
    async def open(cls, url: str, phase_of: Callable[[], Phase], frames: list[str]) -> Agent:
        host, port = url.removeprefix("http://").split(":")
        loop = asyncio.get_running_loop()
        _, agent = await loop.create_connection(lambda: cls(phase_of), host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        assert agent.transport is not None
        agent.transport.write(
            f"GET /api/sync HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        for frame in frames:
            agent.send(frame)
        return agent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, text: str) -> None:
        """One masked text frame (a client must mask; a zero mask leaves the payload as is)."""
        payload = text.encode()
        size = len(payload)
        if size < 126:
            head = bytes([0x81, 0x80 | size])
        elif size < 1 << 16:
            head = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            del buffer[: end + 4]
            self._upgraded = True
        while len(buffer) >= 2:
            size, offset = buffer[1] & 0x7F, 2
            if size == 126:
                size, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                size, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + size:
                return
            self._frame(bytes(buffer[offset : offset + size]))
            del buffer[: offset + size]

    def _frame(self, payload: bytes) -> None:
        if not payload.startswith(b'{"type":"Transition"'):
            return
        self.ready.set()
        now = time.perf_counter()
        phase = self.phase_of()
        start = payload.find(self.TAG)
        while start >= 0:
            begin = start + len(self.TAG) - 5
            tag = payload[begin : payload.find(b'"', begin)]
            if tag not in self.seen:
                self.seen.add(tag)
                sent = phase.sent_at.get(tag.decode())
                if sent is not None and phase.recording:
                    phase.observed.append(now - sent)
            start = payload.find(self.TAG, begin)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# --- the two servers, same load ----------------------------------------------------------------


def agent_identity(user_id: str) -> dict[str, str]:
    """The identity a signed-in dashboard user's token carries (the app reads the user id from it)."""
    issuer = "https://opencom.test"
    return {"subject": f"{user_id}|load", "issuer": issuer, "tokenIdentifier": f"{issuer}|{user_id}"}



class OpencomTarget:
    """The real server on the Opencom app, seeded with a workspace, an inbox and agents."""

    def __init__(self, url: str, admin_key: str, session: aiohttp.ClientSession) -> None:
        self.url, self.admin_key, self.session = url, admin_key, session
        self.pid = 0
        self.workspace_id = ""
        self.agent_ids: list[str] = []
        self.visitors: list[tuple[SyncSocket, dict[str, Any]]] = []
        self.agents: list[Agent] = []
        self.phase = Phase()

    async def call(self, kind: str, path: str, args: dict[str, Any], acting_as: str | None = None) -> Any:
        credential = self.admin_key
        if acting_as is not None:
            credential += ":" + base64.b64encode(json.dumps(agent_identity(acting_as)).encode()).decode()
        headers = {"Authorization": f"Convex {credential}"}
        body = {"path": path, "args": args, "format": "json"}
        async with self.session.post(f"{self.url}/api/{kind}", json=body, headers=headers) as response:
            payload = await response.json()
        if payload.get("status") != "success":
            raise RuntimeError(f"{path}: {payload}")
        return payload["value"]

    async def seed(self, inbox: int) -> None:
        name = "Load test workspace"
        admin = await self.call("mutation", "users:createOrUpdateUser", {"email": "admin@load.test", "name": "Admin", "workspaceName": name})
        self.workspace_id = (await self.call("query", "workspaces:getByName", {"name": name}, admin) or {}).get("_id", "")
        if not self.workspace_id:
            raise RuntimeError("seeding found no workspace for the admin")
        await bounded(SEED_CONCURRENCY, [self._inbox_conversation for _ in range(inbox)])

    async def _inbox_conversation(self) -> None:
        socket = await SyncSocket.open(self.session, self.url)
        try:
            await self._visitor_conversation(socket)
        finally:
            await socket.close()

    async def _visitor_conversation(self, socket: SyncSocket) -> dict[str, Any]:
        booted = await socket.mutation("widgetSessions:boot", {"workspaceId": self.workspace_id, "sessionId": str(uuid.uuid4())})
        token = booted["sessionToken"]
        created = await socket.mutation("conversations:createForVisitor", {"workspaceId": self.workspace_id, "sessionToken": token})
        return {"conversationId": created["_id"], "senderType": "visitor", "senderId": booted["visitor"]["_id"], "sessionToken": token}

    async def add_visitors(self, count: int) -> None:
        async def one() -> None:
            socket = await SyncSocket.open(self.session, self.url)
            self.visitors.append((socket, await self._visitor_conversation(socket)))

        await bounded(SEED_CONCURRENCY, [one for _ in range(count - len(self.visitors))])

    async def add_agents(self, count: int) -> None:
        watched = [args["conversationId"] for _, args in self.visitors[:WATCHED]]
        while len(self.agents) < count:
            email = f"agent-{len(self.agents)}@load.test"
            user_id = await self.call("mutation", "users:createOrUpdateUser", {"email": email, "name": "Agent"})
            await self.call("mutation", "users:addMembership", {"userId": user_id, "workspaceId": self.workspace_id, "role": "agent"})
            identity = agent_identity(user_id)
            queries = [{"type": "Add", "queryId": 0, "udfPath": "conversations:list", "args": [{"workspaceId": self.workspace_id}]}]
            queries += [
                {"type": "Add", "queryId": index + 1, "udfPath": "messages:list", "args": [{"conversationId": conversation}]}
                for index, conversation in enumerate(watched)
            ]
            frames = [
                convex_frame("Connect", sessionId=str(uuid.uuid4()), connectionCount=0, clientTs=0),
                convex_frame("Authenticate", baseVersion=0, tokenType="Admin", value=self.admin_key, impersonating=identity),
                convex_frame("ModifyQuerySet", baseVersion=0, newVersion=1, modifications=queries),
            ]
            agent = await Agent.open(self.url, lambda: self.phase, frames)
            await asyncio.wait_for(agent.ready.wait(), 120)
            self.agents.append(agent)

    async def send(self, index: int, tag: str) -> None:
        socket, args = self.visitors[index]
        await socket.mutation("messages:send", {**args, "content": tag})


class ThinTarget:
    """The thin server: one WebSocket per visitor, the same message a second."""

    def __init__(self, url: str, pid: int, session: aiohttp.ClientSession) -> None:
        self.url, self.pid, self.session = url, pid, session
        self.sockets: list[tuple[aiohttp.ClientWebSocketResponse, dict[str, asyncio.Future[None]]]] = []
        self.phase = Phase()

    async def add_visitors(self, count: int) -> None:
        while len(self.sockets) < count:
            socket = await self.session.ws_connect(self.url.replace("http://", "ws://") + "/send")
            waiting: dict[str, asyncio.Future[None]] = {}
            asyncio.create_task(self._read(socket, waiting))
            self.sockets.append((socket, waiting))

    @staticmethod
    async def _read(socket: aiohttp.ClientWebSocketResponse, waiting: dict[str, asyncio.Future[None]]) -> None:
        async for message in socket:
            waiting.pop(json.loads(message.data)["id"]).set_result(None)

    async def send(self, index: int, tag: str) -> None:
        socket, waiting = self.sockets[index]
        future = asyncio.get_running_loop().create_future()
        waiting[tag] = future
        await socket.send_str(json.dumps({"id": tag, "conversation": index, "content": tag}))
        await future


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> None:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(run(job) for job in jobs))


async def run_phase(target: OpencomTarget | ThinTarget, visitors: int, seconds: float) -> dict[str, float]:
    """Every visitor sends one message a second (random phase) for ``seconds``; latencies of those."""
    phase = target.phase = Phase()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def visitor(index: int) -> None:
        await asyncio.sleep(random.random())
        while loop.time() < deadline:
            tag = f"load-{uuid.uuid4()}"
            started = time.perf_counter()
            phase.sent_at[tag] = started
            await target.send(index, tag)
            phase.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))

    cpu_before, wall_before, client_before = process_tree_cpu(target.pid), time.perf_counter(), time.process_time()
    phase.recording = True
    await asyncio.gather(*(visitor(index) for index in range(visitors)))
    phase.recording = False
    wall = time.perf_counter() - wall_before
    return phase.summary(wall, process_tree_cpu(target.pid) - cpu_before, time.process_time() - client_before)


def progress(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


async def measure_load(
    opencom: OpencomTarget, thin: ThinTarget, visitors: int, agents: int, seconds: float, repeats: int
) -> None:
    await opencom.add_visitors(visitors)
    await opencom.add_agents(agents)
    await thin.add_visitors(visitors)
    progress(f"measuring {visitors} visitors / {agents} agents")
    await run_phase(opencom, min(visitors, 20), 1.0)  # warm both before timing
    await run_phase(thin, min(visitors, 20), 1.0)
    figures: dict[str, list[float]] = {}
    for _ in range(repeats):
        ours = await run_phase(opencom, visitors, seconds)
        theirs = await run_phase(thin, visitors, seconds)
        for name, value in {
            "mutation_p50_ratio": ours["p50_ms"] / theirs["p50_ms"],
            "observe_p50_ratio": ours["observe_p50_ms"] / theirs["p50_ms"],
            "throughput_ratio": ours["per_s"] / theirs["per_s"],
            "cpu_per_send_ratio": ours["cpu_per_send_ms"] / theirs["cpu_per_send_ms"],
            "mutation_p50_ms": ours["p50_ms"],
            "mutation_p99_ms": ours["p99_ms"],
            "observe_p50_ms": ours["observe_p50_ms"],
            "thin_p50_ms": theirs["p50_ms"],
            "server_cores": ours["cores"],
            "thin_cores": theirs["cores"],
            "load_generator_cores": ours["client_cores"],
        }.items():
            figures.setdefault(name, []).append(value)
    label = f"{visitors}_{agents}"
    for name, values in figures.items():
        print(f"load_{label}_{name}: {spread(values)}", flush=True)


async def run(options: argparse.Namespace) -> None:
    loads = [tuple(int(part) for part in load.split("/")) for load in options.loads.split(",")]
    with tempfile.TemporaryDirectory() as data_dir:
        opencom_dir, thin_dir = Path(data_dir) / "opencom", Path(data_dir) / "thin"
        thin_dir.mkdir()
        argv = [sys.executable, "-m", "runtime.server", "--app", str(REPO), "--data", str(opencom_dir),
                "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
        os.environ["OPENCOM_SQLITE_SYNCHRONOUS"] = options.synchronous
        async with AsyncExitStack() as stack:
            url = await stack.enter_async_context(server_process(argv))
            thin_argv = [sys.executable, __file__, "--thin-server", str(thin_dir), "--synchronous", options.synchronous]
            thin_url = await stack.enter_async_context(server_process(thin_argv))
            session = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
            admin_key = read_admin_key(opencom_dir)
            assert admin_key is not None
            opencom = OpencomTarget(url[0], admin_key, session)
            opencom.pid = url[1]
            thin = ThinTarget(thin_url[0], thin_url[1], session)
            await opencom.seed(options.inbox)
            progress(f"seeded an inbox of {options.inbox} conversations")
            for visitors, agents in sorted(loads, key=lambda load: (load[1], load[0])):
                await measure_load(opencom, thin, visitors, agents, options.seconds, options.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", default="100/1,100/10,100/50,500/50", help="visitors/agents, comma-separated")
    parser.add_argument("--inbox", type=int, default=1000, help="conversations seeded before measuring")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each timed phase")
    parser.add_argument("--repeats", type=int, default=3, help="subject/baseline phase pairs per load")
    parser.add_argument(
        "--synchronous", default="FULL", help="PRAGMA synchronous of both servers; NORMAL takes the disk out (default FULL)"
    )
    parser.add_argument("--thin-server", metavar="DIR", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.thin_server:
        asyncio.run(run_thin_server(options.thin_server, options.synchronous))
    else:
        asyncio.run(run(options))


if __name__ == "__main__":
    main()
