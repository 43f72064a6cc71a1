"""Shared fixtures of the Opencom backend tests (the helpers themselves live in ``opencom_backend``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
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
