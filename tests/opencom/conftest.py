"""Shared fixtures of the Opencom backend tests (the helpers themselves live in ``opencom_backend``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from opencom_backend import Backend, Team, open_backend


@pytest_asyncio.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    """The Opencom app on a fresh database."""
    opened = await open_backend(tmp_path / "data")
    yield opened
    await opened.executor.close()


@pytest_asyncio.fixture
async def team(backend: Backend) -> Team:
    """A seeded workspace (admin only)."""
    return await backend.seed_team()
