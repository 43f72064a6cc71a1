"""Requests that came through a reverse proxy: believe its ``X-Forwarded-*`` headers, and only its.

Behind a proxy that terminates TLS (nginx, Caddy, a cloud load balancer) the server sees plain HTTP
from the proxy's address. The proxy reports what the client used: ``X-Forwarded-Proto`` (``http``
or ``https``), ``X-Forwarded-Host`` and ``X-Forwarded-For``. For connections from the addresses the
operator lists (``--forwarded-allow-ips``: addresses or networks, ``*`` for any), the request's
scheme, host and remote address are rewritten from them, so that an HTTP action's ``request.url``
is the URL the client used. From anyone else the headers are ignored: a client could forge them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class TrustedProxies:
    """The peers whose forwarded headers are believed, parsed from ``"10.0.0.1, 172.16.0.0/12"`` or ``"*"``."""

    def __init__(self, spec: str) -> None:
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        self.any = "*" in entries
        try:
            self.networks = [ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"]
        except ValueError as error:
            raise ValueError(f"forwarded-allow-ips: {error}") from None

    def __bool__(self) -> bool:
        return self.any or bool(self.networks)

    def trusts(self, peer: str | None) -> bool:
        """Whether the connection's peer address is a trusted proxy."""
        if peer is None:
            return False
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _first(value: str | None) -> str | None:
    """The client-facing hop of a comma-separated header: its first element."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _client_address(forwarded_for: str, proxies: TrustedProxies) -> str | None:
    """The nearest address in ``X-Forwarded-For`` that is not one of the trusted proxies."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not proxies.trusts(hop):
            return hop
    return hops[0] if hops else None


def forwarded_middleware(proxies: TrustedProxies) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware applying ``X-Forwarded-Proto/Host/For`` of requests from ``proxies``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not proxies.trusts(request.remote):
            return await handler(request)
        changes: dict[str, str] = {}
        scheme = _first(request.headers.get("X-Forwarded-Proto"))
        if scheme is not None and scheme.lower() in ("http", "https"):
            changes["scheme"] = scheme.lower()
        host = _first(request.headers.get("X-Forwarded-Host"))
        if host is not None and _HOST.match(host):
            changes["host"] = host
        client = _client_address(request.headers.get("X-Forwarded-For", ""), proxies)
        if client is not None:
            changes["remote"] = client
        return await handler(request.clone(**changes) if changes else request)  # type: ignore[arg-type]

    return middleware
