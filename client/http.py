"""``AsyncConvexHttpClient``: one-off calls over the HTTP API, without a WebSocket.

Useful where no live updates are needed (scripts, server-to-server calls). Each call is one
``POST /api/query|mutation|action`` in Convex's encoded JSON, so int64 and bytes round-trip exactly.
There is no read-your-writes ordering across calls beyond what the server's commit order gives.
"""

from __future__ import annotations

from typing import Any, Self

import aiohttp
import msgspec

from client.errors import ConvexFunctionError, function_error
from runtime import knobs
from runtime.values.values import Value, from_json, to_json


class AsyncConvexHttpClient:
    """Call a deployment's functions over HTTP; use as ``async with AsyncConvexHttpClient(url) as c``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._token: str | None = None
        self._http: aiohttp.ClientSession | None = None

    def set_auth(self, token: str) -> None:
        """Send ``Authorization: Bearer <token>`` with every later call."""
        self._token = token

    def clear_auth(self) -> None:
        """Make later calls unauthenticated."""
        self._token = None

    async def query(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run a query at the server's latest timestamp."""
        return await self._call("query", path, args)

    async def mutation(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run a mutation; returns once it is committed."""
        return await self._call("mutation", path, args)

    async def action(self, path: str, args: dict[str, Value] | None = None) -> Value:
        """Run an action."""
        return await self._call("action", path, args)

    async def close(self) -> None:
        """Release the HTTP connection pool."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, kind: str, path: str, args: dict[str, Value] | None) -> Value:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=knobs.CLIENT_HTTP_TIMEOUT_S))
        body = {"path": path, "format": "convex_encoded_json", "args": [to_json(dict(args or {}))]}
        headers = {"Content-Type": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        async with self._http.post(
            f"{self.url}/api/{kind}", data=msgspec.json.encode(body), headers=headers
        ) as response:
            raw = await response.read()
            status = response.status
        if status not in (200, 560):
            raise ConvexFunctionError(_http_error_message(status, raw))
        reply: dict[str, Any] = msgspec.json.decode(raw)
        log_lines = reply.get("logLines") or []
        if reply.get("status") == "success":
            return from_json(reply.get("value"))
        error_data = reply.get("errorData", msgspec.UNSET)
        raise function_error(str(reply.get("errorMessage")), error_data, log_lines)


def _http_error_message(status: int, raw: bytes) -> str:
    """``{"code", "message"}`` bodies become ``"<code>: <message>"``; anything else is quoted as is."""
    try:
        body = msgspec.json.decode(raw)
        return f"HTTP {status} {body['code']}: {body['message']}"
    except (msgspec.DecodeError, KeyError, TypeError):
        return f"HTTP {status}: {raw.decode(errors='replace')}"
