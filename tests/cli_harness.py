"""Driving the ``opencom`` CLI the way a user does: its console script, as a subprocess.

``opencom(...)`` runs one command to completion; ``running_server(...)`` starts ``opencom dev`` or
``opencom serve`` on a free port of 127.0.0.1, waits (bounded) for its banner, and stops it with
Ctrl-C (SIGINT) afterwards; ``Background`` runs a long command (``run --watch``, ``logs``) whose
output the test reads while it goes on. Every wait is bounded so a broken CLI fails the test
instead of hanging it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLI_APP = Path(__file__).parent / "apps" / "cli"
WAIT_S = 30.0  # upper bound on any single wait; tests pass in a fraction of it
_SCRIPT = Path(sys.executable).parent / "opencom"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "cli.main"]
ENV = {**os.environ, "OPENCOM_DEV_POLL_INTERVAL_S": "0.05", "PYTHONUNBUFFERED": "1"}


def opencom(*args: str | Path, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``opencom ARGS`` to completion and return what it printed and its exit code."""
    return subprocess.run(
        [*COMMAND, *map(str, args)],
        check=False,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env=ENV,
    )


def copy_app(destination: Path) -> Path:
    """A private copy of the CLI test app (for tests that edit its files)."""
    return Path(shutil.copytree(CLI_APP, destination, ignore=shutil.ignore_patterns(".opencom", "__pycache__")))


class Background:
    """A long-running command; its stdout and stderr lines are collected as they arrive."""

    def __init__(self, *args: str | Path, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *map(str, args)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[tuple[str, str]] = queue.Queue()
        for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()

    def _pump(self, name: str, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._lines.put((name, line))

    def _collect(self, timeout: float) -> None:
        try:
            name, line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return
        (self.stdout if name == "stdout" else self.stderr).append(line)

    def wait_for(self, pattern: str, *, stream: str = "stdout", timeout: float = WAIT_S) -> re.Match[str]:
        """Wait until the text printed on ``stream`` so far matches ``pattern`` (a regex)."""
        deadline = time.monotonic() + timeout
        while True:
            text = "".join(self.stdout if stream == "stdout" else self.stderr)
            match = re.search(pattern, text)
            if match is not None:
                return match
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no {pattern!r} on {stream} within {timeout}s\nstdout: {''.join(self.stdout)}\nstderr: {''.join(self.stderr)}"
                )
            if self.process.poll() is not None and self._lines.empty():
                time.sleep(0.05)  # let the pump threads hand over the last lines
                if self._lines.empty():
                    raise AssertionError(
                        f"exited ({self.process.returncode}) before printing {pattern!r}\n"
                        f"stdout: {''.join(self.stdout)}\nstderr: {''.join(self.stderr)}"
                    )
            self._collect(0.05)

    def interrupt(self) -> int:
        """Press Ctrl-C and wait (bounded) for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=WAIT_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            while not self._lines.empty():
                self._collect(0)


@contextmanager
def running_server(app: Path, data: Path, *, command: str = "dev") -> Iterator[tuple[str, Background]]:
    """``opencom dev|serve`` on a free port; yields its URL and the process, then stops it."""
    server = Background(command, "--app", app, "--data", data, "--port", "0")
    try:
        url = server.wait_for(r"serving \S+ at (http://127\.0\.0\.1:\d+)").group(1)
        yield url, server
    finally:
        server.interrupt()
