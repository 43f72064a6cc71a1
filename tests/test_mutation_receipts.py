"""A WebSocket mutation runs once even when its server dies between its commit and its reply.

The client, as npm's does, reconnects with the same session id and resends the mutation under the
same request id, to the same server restarted (SQLite) or to another server of the deployment
(PostgreSQL); the last test has the official npm client do it by itself. The server killed here may already have written the reply to its socket: the client
never reads it, which is what a reply lost with the process looks like from the client's side.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime import knobs
from runtime.functions.executor import Executor
from runtime.store import DATABASE_URL_VARIABLE
from runtime.store.receipts import Receipt
from tests.driver_process import Driver
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import RunningServer, SyncConnection, mutation, start_server
from tests.store_fixtures import BOTH_STORES, Stores

APP = Path(__file__).parent / "apps" / "cluster"
WAIT_S = 20.0
RECONNECT_TIMEOUT_S = 60.0  # npm backs off ~1 s after a lost socket, doubling with jitter


async def messages(node: RunningServer) -> list[dict[str, Any]]:
    """Every message, read through ``node``'s HTTP API."""
    async with aiohttp.ClientSession() as http:
        body = {"path": "chat:everything", "args": {}, "format": "json"}
        async with http.post(f"{node.url}/api/query", json=body) as response:
            result = await response.json()
    assert result["status"] == "success", result
    return result["value"]


async def send_and_wait_for_commit(node: RunningServer, session_id: str, body: str) -> str:
    """Send ``chat:send`` as request 0 and return the new message's id once another reader sees it
    committed; the mutation's reply is left unread."""
    async with SyncConnection.open(node, session_id=session_id) as connection:
        await connection.send(mutation(0, "chat:send", {"author": "ada", "body": body}))
        deadline = time.monotonic() + WAIT_S
        while not (found := [m for m in await messages(node) if m["body"] == body]):
            assert time.monotonic() < deadline, "the mutation never committed"
            await asyncio.sleep(0.02)
        return found[0]["_id"]


async def resend(node: RunningServer, session_id: str, request_id: int, body: str) -> dict[str, Any]:
    """Reconnect as the npm client does and send ``chat:send`` under ``request_id``; its reply."""
    async with SyncConnection.open(node, session_id=session_id, connection_count=1) as connection:
        await connection.send(mutation(request_id, "chat:send", {"author": "ada", "body": body}))
        return await connection.until(lambda frame, _: frame["type"] == "MutationResponse")


async def test_a_mutation_resent_after_sigkill_is_answered_from_its_commit(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data")
    try:
        session_id = str(uuid.uuid4())
        first_id = await send_and_wait_for_commit(server, session_id, "once")
        server.kill()
        server.restart()
        reply = await resend(server, session_id, 0, "once")
        assert reply["success"] and reply["result"] == first_id, reply
        assert [m["_id"] for m in await messages(server)] == [first_id]
        # The next request of the session is a new mutation, and runs.
        reply = await resend(server, session_id, 1, "once")
        assert reply["success"] and reply["result"] != first_id
        assert len(await messages(server)) == 2
    finally:
        server.stop()


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
async def test_a_mutation_resent_to_another_server_is_answered_from_its_commit(
    tmp_path: Path, store_kind: Stores
) -> None:
    data = tmp_path / "data"
    env = {DATABASE_URL_VARIABLE: store_kind.url_for(data) or ""}
    nodes = [start_server(APP, data, env=env) for _ in range(3)]
    try:
        session_id = str(uuid.uuid4())
        first_id = await send_and_wait_for_commit(nodes[0], session_id, "once")
        nodes[0].kill()
        for node in nodes[1:]:
            reply = await resend(node, session_id, 0, "once")
            assert reply["success"] and reply["result"] == first_id, reply
        assert [m["_id"] for m in await messages(nodes[1])] == [first_id]
        # Another caller presenting the same session and request ids runs its own mutation.
        async with SyncConnection.open(nodes[2], session_id=session_id, connection_count=1) as connection:
            await connection.send(
                {"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": nodes[2].admin_key}
            )
            await connection.send(mutation(0, "chat:send", {"author": "ada", "body": "once"}))
            reply = await connection.until(lambda frame, _: frame["type"] == "MutationResponse")
        assert reply["success"] and reply["result"] != first_id
    finally:
        for node in nodes:
            node.stop()


# --- the receipts themselves, through the executor, on both stores ---------------------------


def receipt(request_id: int, *, resent: bool) -> Receipt:
    """Request ``request_id`` of one session, as a first send or as a resend the writer must check."""
    return Receipt(("session", request_id, "anonymous"), lambda: resent)


def stored_receipts(executor: Executor) -> int:
    with executor.database.snapshot():
        rows = executor.database.read_transaction(0).rows
        return len(rows.find_receipts([("session", number, "anonymous") for number in range(4)]))


@BOTH_STORES
async def test_a_resend_gets_the_first_outcome_and_runs_nothing(open_executor: Callable[..., Executor]) -> None:
    executor = open_executor(APP)
    first = await executor.run("chat:send", {"author": "ada", "body": "hi"}, receipt=receipt(0, resent=False))
    again = await executor.run("chat:send", {"author": "ada", "body": "hi"}, receipt=receipt(0, resent=True))
    assert first.ok and (again.value, again.ts, again.log_lines) == (first.value, first.ts, first.log_lines)
    assert executor.database.count_documents("messages") == 1
    # A request that was never recorded runs, even when it may have run before.
    other = await executor.run("chat:send", {"author": "ada", "body": "hi"}, receipt=receipt(1, resent=True))
    assert other.ok and other.value != first.value
    assert executor.database.count_documents("messages") == 2 and stored_receipts(executor) == 2


@BOTH_STORES
async def test_failed_and_read_only_mutations_leave_no_receipt(open_executor: Callable[..., Executor]) -> None:
    executor = open_executor(APP)
    failed = await executor.run("chat:send_then_fail", {"body": "x"}, receipt=receipt(0, resent=False))
    read = await executor.run("chat:count", {}, receipt=receipt(1, resent=False))
    assert failed.error is not None and read.value == 0
    assert stored_receipts(executor) == 0
    # A resend of the failed one runs it again: the client hears a fresh outcome.
    again = await executor.run("chat:send_then_fail", {"body": "x"}, receipt=receipt(0, resent=True))
    assert again.error is not None and executor.database.count_documents("messages") == 0


@BOTH_STORES
async def test_receipts_past_their_age_are_deleted_by_a_later_commit(
    open_executor: Callable[..., Executor], monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = open_executor(APP)
    await executor.run("chat:send", {"author": "ada", "body": "old"}, receipt=receipt(0, resent=False))
    assert stored_receipts(executor) == 1
    monkeypatch.setattr(knobs, "MUTATION_RECEIPTS_KEPT_S", 0.0)
    await executor.run("chat:send", {"author": "ada", "body": "new"})
    assert stored_receipts(executor) == 0


# --- the official npm client's own reconnect path ----------------------------------------------


class ReplyDroppingProxy:
    """A TCP proxy in front of a server that can swallow everything the server sends (``hold``) and
    cut every connection (``cut``): a reply that never reaches the client, then a lost socket."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hold = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        self._writers += [client_writer, server_writer]
        await asyncio.gather(
            self._pipe(client_reader, server_writer, from_server=False),
            self._pipe(server_reader, client_writer, from_server=True),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_server: bool) -> None:
        try:
            while data := await reader.read(1 << 16):
                if not (from_server and self.hold):
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        """Drop every open connection, both sides."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_the_npm_client_resending_after_a_crash_gets_its_first_result(tmp_path: Path) -> None:
    node = node_with_convex()
    server = start_server(APP, tmp_path / "data")
    proxy = ReplyDroppingProxy(server.port)
    driver: Driver | None = None
    try:
        driver = await Driver.start([node, "driver.mjs", await proxy.start()], cwd=str(NPM_DIR))
        await driver.call("mutation", path="chat:send", args={"author": "js", "body": "warm-up"})
        proxy.hold = True
        pending = driver.send("mutation", path="chat:send", args={"author": "js", "body": "once"})
        deadline = time.monotonic() + WAIT_S
        while not (found := [m for m in await messages(server) if m["body"] == "once"]):
            assert time.monotonic() < deadline, "the mutation never committed"
            await asyncio.sleep(0.02)
        server.kill()
        proxy.cut()
        proxy.hold = False
        await asyncio.to_thread(server.restart)
        assert await driver.result(pending, timeout=RECONNECT_TIMEOUT_S) == found[0]["_id"]
        assert [m["body"] for m in await messages(server)] == ["warm-up", "once"]
    finally:
        if driver is not None:
            await driver.close()
        await proxy.close()
        server.stop()
