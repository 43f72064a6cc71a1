"""Calling a running server from the CLI: one-off calls over HTTP, ``--watch`` over the WebSocket.

Calls speak the same protocol as any Convex client (convex-protocol §3, §10), with two operator
extras: ``Authorization: Convex <admin key>`` for internal functions, and ``Authenticate`` with
``tokenType: "Admin"`` plus ``impersonating`` to act as a user. The HTTP API has no way to act as
a user, so a call with an identity goes over the WebSocket too.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import aiohttp
import msgspec

from cli.function_logs import print_log_lines, strip_request_prefix
from cli.output import EXIT_OK, CliError, notice, one_line, print_json
from client import protocol
from client.async_client import sync_url
from runtime import knobs
from runtime.functions.definitions import Kind
from runtime.tokens.identity import Identity
from runtime.values.values import Value, from_json, to_json

_KINDS: tuple[Kind, ...] = ("query", "mutation", "action")
_QUERY_ID = 0  # the one query a CLI connection subscribes to


async def run(
    url: str, path: str, args: dict[str, Value], *, kind: Kind | None, admin_key: str | None, identity: Identity | None
) -> int:
    """Call ``path`` once on the server at ``url`` and print the result (``kind`` None: unknown here)."""
    try:
        if identity is not None:
            return await _run_over_websocket(url, path, args, kind, admin_key, identity)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=knobs.CLI_REQUEST_TIMEOUT_S)) as http:
            # ``/api/function`` runs any kind: the way to call a function whose kind is unknown here.
            reply = await _post(http, f"{url}/api/{kind or 'function'}", path, args, admin_key)
            return _print_reply(kind or "function", path, reply)
    except aiohttp.ClientError as error:
        raise CliError(f"cannot reach the server at {url}: {error}") from None


async def _post(
    http: aiohttp.ClientSession, endpoint: str, path: str, args: dict[str, Value], admin_key: str | None
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if admin_key is not None:
        headers["Authorization"] = f"Convex {admin_key}"
    body = {"path": path, "format": "convex_encoded_json", "args": [to_json(args)]}
    async with http.post(endpoint, data=msgspec.json.encode(body), headers=headers) as response:
        raw = await response.read()
        status = response.status
    try:
        reply = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        reply = None
    if status not in (200, 560) or not isinstance(reply, dict):
        if isinstance(reply, dict) and "message" in reply:
            raise CliError(f"the server refused the call ({status} {reply.get('code', '')}): {reply['message']}")
        raise CliError(f"the server answered {status}: {raw.decode(errors='replace')[:200]}")
    return reply


def _defined_kind(reply: dict[str, Any]) -> Kind | None:
    """The kind a function really has, from the error of calling it as another kind (Convex's words)."""
    if reply.get("status") != "error":
        return None
    message = str(reply.get("errorMessage", ""))
    for kind in _KINDS:
        if f"but it is defined as {kind.capitalize()}" in message:
            return kind
    return None


def _print_reply(kind: str, path: str, reply: dict[str, Any]) -> int:
    print_log_lines(kind, path, list(reply.get("logLines") or []))
    if reply.get("status") == "success":
        print_json(from_json(reply.get("value")))
        return EXIT_OK
    raise CliError(one_line(strip_request_prefix(str(reply.get("errorMessage", "the function failed")))))


# --- the WebSocket -------------------------------------------------------------------------------


class _SyncSession:
    """One WebSocket connection speaking the sync protocol, as far as the CLI needs it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def open(
        cls, http: aiohttp.ClientSession, url: str, admin_key: str | None, identity: Identity | None
    ) -> _SyncSession:
        ws = await http.ws_connect(sync_url(url), heartbeat=None)
        session = cls(ws)
        await session.send(
            protocol.connect_message(str(uuid.uuid4()), 0, "InitialConnect", None, int(time.time() * 1000))
        )
        if admin_key is not None:
            authenticate: dict[str, Any] = {
                "type": "Authenticate",
                "baseVersion": 0,
                "tokenType": "Admin",
                "value": admin_key,
            }
            if identity is not None:
                authenticate["impersonating"] = identity
            await session.send(authenticate)
        return session

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(protocol.encode_frame(message))

    async def receive(self) -> protocol.ServerMessage:
        """The next frame that matters (pings skipped); a closed socket or a refusal raises ``CliError``."""
        while True:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise CliError("the server closed the connection")
            frame = protocol.decode_server_message(message.data)
            if isinstance(frame, protocol.AuthError):
                raise CliError(f"the server refused the credentials: {frame.error}")
            if isinstance(frame, protocol.FatalError):
                raise CliError(f"the server ended the session: {frame.error}")
            if not isinstance(frame, protocol.Ping):
                return frame


async def watch(
    url: str, path: str, args: dict[str, Value], *, admin_key: str | None, identity: Identity | None
) -> int:
    """Subscribe to the query ``path`` and print every new result until interrupted."""
    try:
        async with aiohttp.ClientSession() as http:
            session = await _SyncSession.open(http, url, admin_key, identity)
            await session.send(protocol.modify_query_set(0, [protocol.add_query(_QUERY_ID, path, args)]))
            notice(f"Watching {path} on {url} (Ctrl-C to stop)")
            while True:
                frame = await session.receive()
                if isinstance(frame, protocol.Transition):
                    _print_query_modifications(path, frame)
    except aiohttp.ClientError as error:
        raise CliError(f"cannot reach the server at {url}: {error}") from None


def _print_query_modifications(path: str, transition: protocol.Transition) -> None:
    for modification in transition.modifications:
        if getattr(modification, "query_id", None) != _QUERY_ID:
            continue
        if isinstance(modification, protocol.QueryUpdated):
            print_log_lines("query", path, modification.log_lines)
            print_json(from_json(msgspec.json.decode(modification.value)))
        elif isinstance(modification, protocol.QueryFailed):
            print_log_lines("query", path, modification.log_lines)
            notice(f"error: {one_line(strip_request_prefix(modification.error_message))}")


async def _run_over_websocket(
    url: str, path: str, args: dict[str, Value], kind: Kind | None, admin_key: str | None, identity: Identity | None
) -> int:
    async with aiohttp.ClientSession() as http:
        session = await _SyncSession.open(http, url, admin_key, identity)
        if kind is None:
            outcome = await _query_once(session, path, args)
            kind = _defined_kind(outcome) or "query"
            if kind == "query":
                return _print_reply(kind, path, outcome)
        if kind == "query":
            return _print_reply(kind, path, await _query_once(session, path, args))
        frame_kind = "Mutation" if kind == "mutation" else "Action"
        await session.send(protocol.request_message(frame_kind, 0, path, to_json(args)))
        while True:
            frame = await session.receive()
            if isinstance(frame, (protocol.MutationResponse, protocol.ActionResponse)) and frame.request_id == 0:
                return _print_reply(kind, path, _reply(frame.success, frame.result, frame.log_lines))


async def _query_once(session: _SyncSession, path: str, args: dict[str, Value]) -> dict[str, Any]:
    """The first result of ``path`` as a subscription, in the shape of an HTTP reply."""
    await session.send(protocol.modify_query_set(0, [protocol.add_query(_QUERY_ID, path, args)]))
    while True:
        frame = await session.receive()
        if not isinstance(frame, protocol.Transition):
            continue
        for modification in frame.modifications:
            if isinstance(modification, protocol.QueryUpdated) and modification.query_id == _QUERY_ID:
                return _reply(True, msgspec.json.decode(modification.value), modification.log_lines)
            if isinstance(modification, protocol.QueryFailed) and modification.query_id == _QUERY_ID:
                return _reply(False, modification.error_message, modification.log_lines)


def _reply(success: bool, result: Any, log_lines: list[str]) -> dict[str, Any]:
    """A WebSocket outcome as an HTTP API reply, so both print the same way."""
    if success:
        return {"status": "success", "value": result, "logLines": log_lines}
    return {"status": "error", "errorMessage": result, "logLines": log_lines}
