"""Shared fixtures of the Opencom backend tests (the helpers themselves live in ``opencom_backend``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp import web
from opencom_backend import Backend, Team, open_backend


@pytest_asyncio.fixture
async def backend() -> AsyncIterator[Backend]:
    """The Opencom app on a fresh database, time standing still (``backend.t`` is the harness)."""
    opened = await open_backend()
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def team(backend: Backend) -> Team:
    """A seeded workspace (admin only)."""
    return await backend.seed_team()


@pytest_asyncio.fixture
async def expo() -> AsyncIterator[tuple[list[Any], str]]:
    """An Expo stand-in on 127.0.0.1: tokens containing "dead" get DeviceNotRegistered tickets."""
    received: list[Any] = []

    async def push(request: web.Request) -> web.Response:
        messages = await request.json()
        received.append(messages)
        tickets = [
            {"status": "error", "message": "not registered", "details": {"error": "DeviceNotRegistered"}}
            if "dead" in message["to"] else {"status": "ok", "id": f"ticket-{index}"}
            for index, message in enumerate(messages)
        ]  # fmt: skip
        return web.Response(text=json.dumps({"data": tickets}), content_type="application/json")

    app = web.Application()
    app.router.add_post("/push", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield received, f"http://127.0.0.1:{port}/push"
    await runner.cleanup()
