"""What a failed call raises in the client, mirroring how the server reports failures.

A function that throws ``ConvexError(data)`` reaches the caller as ``runtime.values.errors.ConvexError``
with ``data`` decoded, so application code catches the same class on both sides of the wire. Any
other failure carries only the server's message, as ``ConvexFunctionError``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.values.errors import ConvexError
from runtime.values.values import from_json


class ConvexFunctionError(Exception):
    """A query, mutation or action failed with an error that carries no data (only a message)."""

    def __init__(self, message: str, log_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_lines = log_lines or []


class ConvexConnectionError(Exception):
    """The client gave up on a call for a reason of its own.

    Raised when the client is closed with calls outstanding, and for an action whose connection
    dropped while it ran: actions may not be idempotent, so they are never sent twice.
    """


def function_error(message: str, error_data: Any, log_lines: list[str]) -> Exception:
    """The exception for a failed call: ``ConvexError`` when the server sent ``errorData``."""
    if error_data is msgspec.UNSET:
        return ConvexFunctionError(message, log_lines)
    return ConvexError(from_json(error_data))
