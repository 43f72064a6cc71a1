"""The pytest plugin of ``runtime.testing`` (entry point ``opencom`` in the ``pytest11`` group).

- ``convex_test``: the app under test on a fresh database, closed after the test. The app is the
  ``convex_app_dir`` fixture: by default the nearest directory above the test file that holds a
  ``functions/`` directory (override the fixture, or set ``convex_app = DIR`` in the pytest ini
  options, relative to the rootdir).
- ``convex_test_factory``: ``await convex_test_factory(app_dir, **options)`` opens more harnesses
  (other apps, or ``env=``/``seed=``/``start_ms=``); all are closed after the test.

The fixtures are async: the app's tests need pytest-asyncio (``asyncio_mode = "auto"`` is simplest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from runtime.testing.harness import ConvexTest

F = TypeVar("F", bound=Callable[..., Any])
Factory = Callable[..., Awaitable[ConvexTest]]

try:
    import pytest_asyncio

    _fixture: Any = pytest_asyncio.fixture
except ImportError:  # without pytest-asyncio pytest itself says the async fixture cannot run
    _fixture = pytest.fixture


def _async_fixture(function: F) -> F:
    return cast(F, _fixture(function))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("convex_app", "the opencom app directory the convex_test fixture opens (relative to the rootdir)")


def find_app_dir(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``functions/`` directory."""
    for directory in (start, *start.parents):
        if (directory / "functions").is_dir():
            return directory
    return None


@pytest.fixture
def convex_app_dir(request: pytest.FixtureRequest) -> Path:
    """The app ``convex_test`` opens (see the module docstring to choose another)."""
    configured = request.config.getini("convex_app")
    if configured:
        return Path(request.config.rootpath, configured).resolve()
    found = find_app_dir(Path(request.path).resolve().parent)
    if found is None:
        raise pytest.UsageError(
            f"{request.path}: no app directory (one with functions/) above this test; set `convex_app` in the "
            "pytest options or override the `convex_app_dir` fixture"
        )
    return found


@_async_fixture
async def convex_test_factory() -> AsyncIterator[Factory]:
    """Open harnesses on any app: ``await convex_test_factory(app_dir, env=..., seed=..., start_ms=...)``."""
    opened: list[ConvexTest] = []

    async def open_harness(app_dir: Path | str, **options: Any) -> ConvexTest:
        harness = await ConvexTest(app_dir, **options).open()
        opened.append(harness)
        return harness

    yield open_harness
    for harness in reversed(opened):
        await harness.close()


@_async_fixture
async def convex_test(convex_test_factory: Factory, convex_app_dir: Path) -> ConvexTest:
    """The app under test on a fresh database, with time standing still."""
    return await convex_test_factory(convex_app_dir)
