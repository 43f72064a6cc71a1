"""Function log lines as the Convex CLI prints them: ``[CONVEX Q(messages:list)] [LOG] text``.

Shared by ``opencom run`` (the lines of its one call) and ``opencom logs`` (every execution of a
running server), so both look like ``npx convex logs``.
"""

from __future__ import annotations

import re
import sys

_KIND_LETTERS = {"query": "Q", "mutation": "M", "action": "A", "httpAction": "H", "http_action": "H"}
_LEVEL = re.compile(r"^\[([A-Z]+)\] ")
_REQUEST_PREFIX = re.compile(r"^\[Request ID: [^\]]*\] Server Error\n?")


def prefix(kind: str, path: str) -> str:
    """``[CONVEX Q(messages:list)]``."""
    return f"[CONVEX {_KIND_LETTERS.get(kind, kind[:1].upper())}({path})]"


def format_log_line(kind: str, path: str, line: str) -> str:
    """One ``logLines`` entry under its function's prefix; an entry without a level tag is shown as is."""
    if _LEVEL.match(line) is None:
        return f"{prefix(kind, path)} [LOG] {line}"
    return f"{prefix(kind, path)} {line}"


def print_log_lines(kind: str, path: str, lines: list[str]) -> None:
    """Print a call's log lines on stderr (stdout carries only its result)."""
    for line in lines:
        print(format_log_line(kind, path, line), file=sys.stderr, flush=True)


def strip_request_prefix(message: str) -> str:
    """A server's ``[Request ID: 7] Server Error\\nUncaught Error: x`` without the first line."""
    stripped = _REQUEST_PREFIX.sub("", message, count=1)
    return stripped or message
