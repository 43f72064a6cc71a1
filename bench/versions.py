"""Two versions of the server side by side, for benchmarks that print "before vs after" ratios.

``source_tree(rev)`` unpacks a git revision of this repository into a temporary directory (the
current working tree when ``rev`` is None); ``running_server(tree, app)`` runs that tree's
``python -m runtime.server`` on a fresh data directory and yields its URL and process id. The app
directory always comes from the working tree, so both versions serve the same functions.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0


@contextmanager
def source_tree(rev: str | None) -> Iterator[Path]:
    """The repository at ``rev`` (a temporary copy), or the working tree itself for None."""
    if rev is None:
        yield REPO
        return
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory(prefix="opencom-bench-") as directory:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        yield Path(directory)


@asynccontextmanager
async def running_server(tree: Path, app: Path, env: dict[str, str] | None = None) -> AsyncIterator[tuple[str, int]]:
    """``tree``'s server on ``app`` with a fresh data directory: yields (URL, pid), then stops it."""
    with tempfile.TemporaryDirectory(prefix="opencom-bench-data-") as data:
        argv = [sys.executable, "-m", "runtime.server", "--app", str(app), "--data", data,
                "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
        environment = {**os.environ, "PYTHONPATH": str(tree), "OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL", **(env or {})}
        async with server_process(argv, cwd=tree, env=environment) as running:
            yield running


@asynccontextmanager
async def server_process(
    argv: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, int]]:
    """Run a server process until its ready line names its URL; yield (URL, pid), then stop it."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)
        match = re.search(r"https?://[\w.\-]+:\d+", line.decode())
        if match is None:
            raise RuntimeError(f"{argv[:4]} did not print a ready line with its URL: {line!r}")
        drain = asyncio.create_task(_drain(process.stdout))
        yield match.group(0), process.pid
        drain.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its live children (its re-run
    worker processes), on Linux."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    total += (int(fields[11]) + int(fields[12])) / ticks
    return total + sum(process_tree_cpu(int(child)) for child in children)


def spread(values: list[float]) -> str:
    """``median [min-max]`` of a few measurements."""
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


Prepare = Callable[[aiohttp.ClientSession, str], Awaitable[None]]
Trial = Callable[[aiohttp.ClientSession, str, int], Awaitable[dict[str, float]]]


async def compare(before: str | None, app: Path, trials: int, prepare: Prepare, trial: Trial) -> None:
    """Run ``trial(http, url, pid)`` ``trials`` times on each version, interleaved; print each metric.

    The working tree is "after"; ``before`` (a git revision), when given, is "before". Each server
    is started once and ``prepare``d; the lines read ``<version>_<metric>: median [min-max]``.
    """
    versions = {"after": None} if before is None else {"before": before, "after": None}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in versions}
    with source_tree(before) as before_tree:
        async with AsyncExitStack() as stack, aiohttp.ClientSession() as http:
            servers = {}
            for name, rev in versions.items():
                tree = before_tree if rev is not None else REPO
                servers[name] = await stack.enter_async_context(running_server(tree, app))
                await prepare(http, servers[name][0])
            for _ in range(trials):
                for name, (url, pid) in servers.items():
                    for metric, value in (await trial(http, url, pid)).items():
                        results[name].setdefault(metric, []).append(value)
    for name, metrics in results.items():
        for metric, values in metrics.items():
            print(f"{name}_{metric}: {spread(values)}")
