"""The real server as a subprocess, and a raw sync-protocol connection to talk to it.

    server = start_server(APP_DIR, tmp_path / "data")      # waits for "opencom serving … at <url> (…)"
    async with SyncConnection.open(server) as connection:   # Connect is sent for you
        await connection.send({"type": "ModifyQuerySet", ...})
        transition = await connection.expect("Transition")
    server.restart()   # same ports, same data; server.stop() when done

The server binds 127.0.0.1 on two free ports (the API's ``url`` and the HTTP actions' ``site_url``),
writes its stderr to ``server.log`` beside the data directory (quoted when it fails to start), and
every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.store import DATABASE_URL_VARIABLE
from runtime.tokens.admin_key import read_admin_key
from tests.store_fixtures import Stores

REPO = Path(__file__).resolve().parent.parent
READY_LINE = re.compile(r"^opencom serving .+ at (https?://\S+) \(HTTP actions at (https?://\S+)\)\s*$")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
FRAME_TIMEOUT_S = 10.0


@dataclass
class RunningServer:
    """A server subprocess: its URLs, process and data directory; ``stop`` and ``restart`` it."""

    url: str
    process: subprocess.Popen[bytes]
    app_dir: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    site_url: str = ""
    args: tuple[str, ...] = ()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def site_port(self) -> int:
        return int(self.site_url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        """The Python client's sync URL (``ws://host:port/api/sync``)."""
        return self.url.replace("http", "ws", 1) + "/api/sync"

    @property
    def admin_key(self) -> str:
        """The admin key the server created in its data directory."""
        key = read_admin_key(self.data_dir)
        assert key is not None, "the server has not created its admin key"
        return key

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Convex {self.admin_key}"}

    def stop(self) -> int:
        """SIGTERM, wait for a clean exit (SIGKILL after a bound); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Stop, then start again on the same ports and data directory."""
        self.stop()
        fresh = start_server(
            self.app_dir, self.data_dir, port=self.port, site_port=self.site_port, env=self.env, args=self.args
        )
        self.url, self.site_url, self.process = fresh.url, fresh.site_url, fresh.process

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        path = _log_path(self.data_dir)
        return path.read_text(errors="replace") if path.exists() else ""


def _log_path(data_dir: Path) -> Path:
    return data_dir.parent / f"{data_dir.name}.server.log"


def start_server(
    app_dir: Path | str,
    data_dir: Path | str,
    *,
    port: int = 0,
    site_port: int = 0,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> RunningServer:
    """Start ``python -m runtime.server`` on 127.0.0.1 and wait for its ready line (``args``: more options)."""
    app_dir, data_dir = Path(app_dir), Path(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    extra = dict(env or {})
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}
    command = [sys.executable, "-m", "runtime.server", "--app", str(app_dir), "--data", str(data_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--site-port", str(site_port), *args]
    log = _log_path(data_dir).open("ab")
    process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=log)
    log.close()
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    line = b""
    while time.monotonic() < deadline and process.poll() is None:
        readable, _, _ = select.select([process.stdout], [], [], 0.1)
        if readable:
            line = process.stdout.readline()
            if READY_LINE.match(line.decode(errors="replace")):
                break
    match = READY_LINE.match(line.decode(errors="replace"))
    if match is None:
        process.kill()
        process.wait(STOP_TIMEOUT_S)
        raise RuntimeError(f"the server did not start:\n{_log_path(data_dir).read_text(errors='replace')}")
    # Keep draining stdout so that a chatty server can never block on a full pipe.
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    return RunningServer(match.group(1), process, app_dir, data_dir, extra, match.group(2), tuple(args))


def _drain(stream: Any) -> None:
    for _ in iter(stream.readline, b""):
        pass


class SyncConnection:
    """A raw sync-protocol client for transcript tests.

    It checks what every client relies on as frames arrive: each Transition starts at the previous
    end version, timestamps never go back, ``logLines`` is present. ``results`` holds the latest
    modification per query id, as a client would see them after each Transition.
    """

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession, session_id: str) -> None:
        self.socket = socket
        self.http = http
        self.session_id = session_id
        self.end_version: dict[str, Any] = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}
        self.results: dict[int, dict[str, Any]] = {}
        self.transitions: list[dict[str, Any]] = []

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        server: RunningServer | str,
        *,
        path: str = "/api/sync",
        connect: bool = True,
        session_id: str | None = None,
        max_observed_ts: str | None = None,
        connection_count: int = 0,
    ) -> AsyncIterator[SyncConnection]:
        """Connect (and send ``Connect``, unless ``connect=False``); closes the socket afterwards.

        ``connection_count`` > 0 connects as the npm client reconnects (with the same ``session_id``).
        """
        url = server.url if isinstance(server, RunningServer) else server
        session_id = session_id or str(uuid.uuid4())
        async with aiohttp.ClientSession() as http:
            socket = await http.ws_connect(
                url.replace("http", "ws", 1) + path, timeout=aiohttp.ClientWSTimeout(ws_close=5)
            )
            connection = cls(socket, http, session_id)
            if connect:
                frame: dict[str, Any] = {
                    "type": "Connect",
                    "sessionId": session_id,
                    "connectionCount": connection_count,
                    "lastCloseReason": "InitialConnect" if connection_count == 0 else "closed with code 1006",
                    "clientTs": 0,
                }
                if max_observed_ts is not None:
                    frame["maxObservedTimestamp"] = max_observed_ts
                await connection.send(frame)
            try:
                yield connection
            finally:
                await socket.close()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send_json(frame)

    async def receive(self, timeout: float = FRAME_TIMEOUT_S, *, pings: bool = False) -> dict[str, Any]:
        """The next frame (``Ping`` frames skipped unless ``pings``); raises on close or timeout."""
        while True:
            message = await self.socket.receive(timeout)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed: {message.type.name} {self.socket.close_code} {message.extra!r}")
            frame = message.json()
            if frame["type"] == "Ping" and not pings:
                continue
            self._observe(frame)
            return frame

    async def expect(self, kind: str, timeout: float = FRAME_TIMEOUT_S) -> dict[str, Any]:
        """The next frame, which must be of type ``kind``."""
        frame = await self.receive(timeout)
        assert frame["type"] == kind, f"expected {kind}, got {frame}"
        return frame

    async def closed(self, timeout: float = FRAME_TIMEOUT_S) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.socket.receive(max(remaining, 0.01))
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return self.socket.close_code
            assert message.type == aiohttp.WSMsgType.TEXT, message

    async def until(self, predicate: Any, timeout: float = FRAME_TIMEOUT_S) -> dict[str, Any]:
        """Receive frames until one satisfies ``predicate(frame, self)``; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = await self.receive(max(deadline - asyncio.get_running_loop().time(), 0.01))
            if predicate(frame, self):
                return frame

    async def settle(self, condition: Any, timeout: float = FRAME_TIMEOUT_S) -> None:
        """Receive frames until ``condition(self)`` holds (at once if it already does)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition(self):
            await self.receive(max(deadline - asyncio.get_running_loop().time(), 0.01))

    def value(self, query_id: int) -> Any:
        """The latest value of a query (raises if it failed or never arrived)."""
        result = self.results[query_id]
        assert result["type"] == "QueryUpdated", result
        return result["value"]

    def _observe(self, frame: dict[str, Any]) -> None:
        if frame["type"] != "Transition":
            if frame["type"] in ("MutationResponse", "ActionResponse"):
                assert isinstance(frame["logLines"], list), frame
            return
        assert frame["startVersion"] == self.end_version, (
            f"version gap: {frame['startVersion']} after {self.end_version}"
        )
        assert ts_value(frame["endVersion"]["ts"]) >= ts_value(frame["startVersion"]["ts"]), frame
        for modification in frame["modifications"]:
            if modification["type"] == "QueryRemoved":
                self.results.pop(modification["queryId"], None)
            else:
                assert isinstance(modification["logLines"], list) and "journal" in modification, modification
                self.results[modification["queryId"]] = modification
        self.end_version = frame["endVersion"]
        self.transitions.append(frame)

    async def stats(self, server: RunningServer) -> dict[str, Any]:
        """The server's ``/api/_opencom/stats`` counters."""
        async with self.http.get(server.url + "/api/_opencom/stats", headers=server.admin_headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()


COMPAT_APP = REPO / "tests" / "apps" / "compat"


@pytest.fixture(name="server")
def compat_server(tmp_path: Path, store_kind: Stores) -> Iterator[RunningServer]:
    """``server``: the real server on ``tests/apps/compat`` (the chat app plus compatibility functions).

    Test modules import it to use it; those that need another app define their own ``server``. Its
    store is ``store_kind``'s (SQLite unless the module runs on both stores).
    """
    url = store_kind.url_for(tmp_path / "data")
    running = start_server(COMPAT_APP, tmp_path / "data", env={DATABASE_URL_VARIABLE: url} if url else None)
    yield running
    running.stop()


def ts_value(encoded: str) -> int:
    """A protocol timestamp (base64 u64 little-endian) as an int."""
    return int.from_bytes(base64.b64decode(encoded), "little")


def add_query(
    query_id: int, udf_path: str, args: dict[str, Any] | None = None, journal: str | None = None
) -> dict[str, Any]:
    """An ``Add`` modification as the clients send it."""
    return {"type": "Add", "queryId": query_id, "udfPath": udf_path, "args": [args or {}], "journal": journal}


def modify(base: int, *modifications: dict[str, Any]) -> dict[str, Any]:
    """A ``ModifyQuerySet`` frame from ``base`` to ``base + 1``."""
    return {"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1, "modifications": list(modifications)}


def mutation(request_id: int, udf_path: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``Mutation`` frame."""
    return {"type": "Mutation", "requestId": request_id, "udfPath": udf_path, "args": [args or {}]}
