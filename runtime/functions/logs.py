"""Log lines of function executions: ``print`` and ``logging`` inside a function become Convex
``logLines`` (``[LOG] text``, ``[INFO] …``, ``[WARN] …``, ``[ERROR] …``, ``[DEBUG] …``).

Capture is per execution through a context variable, so concurrent actions each keep their own
lines; output outside any execution passes through to the real stream untouched.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO


class LogBuffer:
    """The log lines of one execution, with ``print``'s partial line kept until its newline."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""

    def write_text(self, text: str) -> None:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        self.lines.extend(f"[LOG] {line}" for line in complete)

    def add(self, level: str, message: str) -> None:
        # A pending ``print(..., end="")`` came first, so it is its own line before this one.
        if self._partial:
            self.lines.append(f"[LOG] {self._partial}")
            self._partial = ""
        self.lines.append(f"[{level}] {message}")

    def finish(self) -> list[str]:
        if self._partial:
            self.lines.append(f"[LOG] {self._partial}")
            self._partial = ""
        return self.lines


_current: ContextVar[LogBuffer | None] = ContextVar("opencom_log_buffer", default=None)


class _StdoutRouter:
    """Stands in for ``sys.stdout``: text written inside an execution goes to its buffer."""

    def __init__(self, real: TextIO) -> None:
        self.real = real

    def write(self, text: str) -> int:
        buffer = _current.get()
        if buffer is None:
            return self.real.write(text)
        buffer.write_text(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


_LEVELS = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN", logging.ERROR: "ERROR", logging.CRITICAL: "ERROR"}


class _CaptureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer = _current.get()
        if buffer is not None:
            buffer.add(_LEVELS.get(record.levelno, "LOG"), record.getMessage())


class _OutsideExecutions(logging.Filter):
    """Keeps the root logger's other handlers from also printing records captured as log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _current.get() is None


_installed = False


def install() -> None:
    """Route ``print`` and ``logging`` of functions into log buffers (idempotent)."""
    global _installed
    # Checked every time: whoever replaced sys.stdout since (a test runner, redirect_stdout) dropped the router.
    if not isinstance(sys.stdout, _StdoutRouter):
        sys.stdout = _StdoutRouter(sys.stdout)  # type: ignore[assignment]
    if _installed:
        return
    _installed = True
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(_OutsideExecutions())
    root.addHandler(_CaptureHandler(level=logging.DEBUG))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


@contextmanager
def capture(buffer: LogBuffer | None = None) -> Iterator[LogBuffer]:
    """Collect the log lines of the code run inside the block (into ``buffer`` if given)."""
    install()
    buffer = buffer if buffer is not None else LogBuffer()
    token = _current.set(buffer)
    try:
        yield buffer
    finally:
        _current.reset(token)
