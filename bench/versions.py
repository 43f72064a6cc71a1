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
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

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
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=tree, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)
            match = re.search(r"https?://[\w.\-]+:\d+", line.decode())
            if match is None:
                raise RuntimeError(f"the server did not print its URL: {line!r}")
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


def spread(values: list[float]) -> str:
    """``median [min-max]`` of a few measurements."""
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"
