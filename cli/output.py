"""What the CLI shows: JSON results on stdout, one-line errors and progress bars on stderr.

Every command keeps stdout for its result (so ``opencom run f | jq`` works) and stderr for
everything meant for the person at the terminal. Errors are raised as ``CliError`` anywhere in a
command and turned into one line and an exit code in exactly one place (``cli.main``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from runtime import knobs
from runtime.values.values import Value, to_json

EXIT_OK = 0
EXIT_FAILURE = 1  # the function failed, or the user's data/files/state are wrong
EXIT_USAGE = 2  # the command line itself is wrong (as argparse uses it)


class CliError(Exception):
    """A failure to report as ``error: <message>`` on one line, exiting with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """A command line that cannot mean anything (bad JSON argument, conflicting options)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def one_line(message: str) -> str:
    """Fold a multi-line message (Convex validation errors have several) into one line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    return f"{lines[0]} ({'; '.join(lines[1:])})"


def format_json(value: Value) -> str:
    """A Convex value as pretty-printed Convex encoded JSON: exact for int64, bytes, NaN, -0.0."""
    return json.dumps(to_json(value), indent=2, ensure_ascii=False)


def print_json(value: Value, stream: TextIO | None = None) -> None:
    """Print a result on stdout (see ``format_json``)."""
    print(format_json(value), file=stream or sys.stdout, flush=True)


def notice(message: str) -> None:
    """A line for the person at the terminal, kept off stdout."""
    print(message, file=sys.stderr, flush=True)


def parse_json_argument(text: str, what: str) -> Any:
    """Parse a JSON command-line argument, or fail with a usage error naming ``what``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{what} is not valid JSON: {error.msg} at character {error.pos + 1}: {text!r}") from None


def render_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under a header, each column as wide as its widest cell (cells are already text)."""
    widths = [len(name) for name in columns]
    for row in rows:
        for position, cell in enumerate(row):
            widths[position] = max(widths[position], len(cell))
    lines = [
        "  ".join(name.ljust(widths[position]) for position, name in enumerate(columns)).rstrip(),
        "  ".join("-" * width for width in widths),
    ]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[position]) for position, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


class ProgressBar:
    """A one-line ``[#####.....] 50% 500/1000 documents`` bar on stderr, for long work.

    Drawn only when stderr is a terminal (a log file gets no carriage-return noise) and at most
    every ``CLI_PROGRESS_INTERVAL_S``; ``finish()`` clears it so the summary line prints cleanly.
    """

    WIDTH = 30

    def __init__(self, label: str, total: int, unit: str = "documents", stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more units of work done and redraw if it is time to."""
        self.done += count
        now = time.monotonic()
        if self._enabled and (now - self._last_draw >= knobs.CLI_PROGRESS_INTERVAL_S or self.done >= self.total):
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {self.done}/{self.total} {self.unit}")
        self._stream.flush()

    def finish(self) -> None:
        """Erase the bar (if one was drawn)."""
        if self._enabled and self._last_draw:
            self._stream.write("\r\033[K")
            self._stream.flush()
