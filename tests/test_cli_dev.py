"""``opencom dev``'s hot reload: edited code serves at once, clients stay connected, bad changes are refused."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.cli_harness import WAIT_S, Background, copy_app, opencom, running_server

LIST_BODIES = 'return [message["body"] for message in await ctx.db.query("messages").collect()]'
LIST_DOCUMENTS = 'return await ctx.db.query("messages").collect()'


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


class SyncClient:
    """A bare sync-protocol connection subscribed to one query, to see exactly what one socket gets."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def subscribe(self, path: str) -> None:
        connect = {
            "type": "Connect",
            "sessionId": str(uuid.uuid4()),
            "connectionCount": 0,
            "lastCloseReason": "InitialConnect",
            "clientTs": 0,
        }
        await self.ws.send_str(json.dumps(connect))
        modify = {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [{"type": "Add", "queryId": 0, "udfPath": path, "args": [{}]}],
        }
        await self.ws.send_str(json.dumps(modify))

    async def next_value(self) -> Any:
        """The query's next result; fails if the socket closes or nothing comes in time."""
        deadline = time.monotonic() + WAIT_S
        while True:
            message = await asyncio.wait_for(self.ws.receive(), max(0.1, deadline - time.monotonic()))
            assert message.type == aiohttp.WSMsgType.TEXT, f"the socket did not stay open: {message}"
            frame = json.loads(message.data)
            if frame["type"] != "Transition":
                continue
            for modification in frame["modifications"]:
                if modification["type"] == "QueryUpdated":
                    return modification["value"]
                if modification["type"] == "QueryFailed":
                    return {"failed": modification["errorMessage"]}


async def send(app: Path, data: Path, body: str) -> None:
    result = await asyncio.to_thread(
        opencom, "run", "--app", app, "--data", data, "messages:send", json.dumps({"author": "ada", "body": body})
    )
    assert result.returncode == 0, result.stderr


async def test_reload_serves_new_code_to_a_client_that_stays_connected(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    with running_server(app, data) as (url, server):
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/api/sync") as ws:
            client = SyncClient(ws)
            await client.subscribe("messages:list")
            assert await client.next_value() == []
            await send(app, data, "hello")
            [message] = await client.next_value()
            assert message["body"] == "hello"

            edit(app / "functions" / "messages.py", LIST_DOCUMENTS, LIST_BODIES)
            assert await client.next_value() == ["hello"]
            await send(app, data, "again")
            assert await client.next_value() == ["hello", "again"]
            assert not ws.closed
        server.wait_for(r"Reloaded \d+ functions after changes to functions/messages.py", stream="stderr")


async def test_code_that_fails_to_import_keeps_the_previous_code_serving(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    functions = app / "functions" / "messages.py"
    with running_server(app, data) as (url, server):
        functions.write_text(functions.read_text() + "\ndef broken(:\n")
        server.wait_for(r"functions/messages.py: SyntaxError: .*still serving the previous code", stream="stderr")
        await send(app, data, "still works")
        listed = opencom("run", "--url", url, "messages:list")
        assert [message["body"] for message in json.loads(listed.stdout)] == ["still works"]


async def test_a_schema_that_stored_documents_violate_is_refused_with_a_report(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    schema = app / "schema.py"
    with running_server(app, data) as (url, server):
        await send(app, data, "old")
        message_id = json.loads(opencom("run", "--url", url, "messages:list").stdout)[0]["_id"]
        edit(schema, '"body": v.string()}', '"body": v.string(), "score": v.float64()}')
        report = server.wait_for(r"Schema validation failed[^\n]*\n[^\n]*\n", stream="stderr").group(0)
        assert "1 existing document in messages" in report
        assert f"messages {message_id}: field score:" in report
        server.wait_for("Still serving the previous code and schema", stream="stderr")
        await send(app, data, "no score needed yet")  # the old schema still applies

        edit(schema, '"score": v.float64()}', '"score": v.optional(v.float64())}')
        server.wait_for(r"Reloaded \d+ functions after changes to schema.py", stream="stderr")
        scored = opencom("run", "--url", url, "messages:send", '{"author": "a", "body": "b", "score": 1}')
        assert scored.returncode == 1 and "extra field `score`" in scored.stderr  # the function's args are unchanged


async def test_a_new_index_is_built_and_usable_after_reload(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    with running_server(app, data) as (url, server):
        for body in ("b", "a", "c"):
            await send(app, data, body)
        edit(
            app / "schema.py",
            '.index("by_author", ["author"])',
            '.index("by_author", ["author"]).index("by_body", ["body"])',
        )
        edit(
            app / "functions" / "messages.py",
            LIST_DOCUMENTS,
            'return [m["body"] for m in await ctx.db.query("messages").with_index("by_body").collect()]',
        )
        server.wait_for(r"Reloaded \d+ functions", stream="stderr")
        listed = opencom("run", "--url", url, "messages:list")
        assert json.loads(listed.stdout) == ["a", "b", "c"]


def test_watch_keeps_printing_across_a_reload(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    with running_server(app, data) as (_, server):
        watch = Background("run", "--app", app, "--data", data, "messages:list", "--watch")
        try:
            watch.wait_for(r"^\[\]\n")
            edit(app / "functions" / "messages.py", LIST_DOCUMENTS, 'return ["reloaded"]')
            server.wait_for(r"Reloaded", stream="stderr")
            watch.wait_for(r'"reloaded"')
        finally:
            assert watch.interrupt() == 0


def test_dev_reports_an_http_module_without_a_router(tmp_path: Path) -> None:
    """The app fails to load at start (convex-semantics §6.6), rather than serving 404 on every path."""
    app = copy_app(tmp_path / "app")
    (app / "functions" / "http.py").write_text("http = 42\n")
    started = opencom("dev", "--app", app, "--data", tmp_path / "data", "--port", "0")
    assert started.returncode == 1
    assert "The default export of `functions/http.py` is not a Router." in started.stderr


async def test_a_reload_that_loses_the_router_keeps_the_previous_code(tmp_path: Path) -> None:
    app, data = copy_app(tmp_path / "app"), tmp_path / "data"
    router = app / "functions" / "http.py"
    router.write_text("from runtime.functions.http_actions import HttpRouter\nhttp = HttpRouter()\n")
    with running_server(app, data) as (url, server):
        router.write_text("from runtime.functions.http_actions import HttpRouter\nroutes = HttpRouter()\n")
        server.wait_for(r"http.py: TypeError: `functions/http.py` must have a default export", stream="stderr")
        server.wait_for("still serving the previous code", stream="stderr")
        listed = opencom("run", "--url", url, "messages:list")
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
