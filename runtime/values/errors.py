"""The errors a function caller can see, and how each is rendered for the wire.

Two families exist, as in Convex: ``ConvexError`` carries application data to the caller
untouched; every other exception is a developer error and only its message travels.
"""

from __future__ import annotations

import json
from typing import Any

# ConvexValueError is defined beside the checks that raise it; callers find it among the errors too.
from runtime.values.values import ConvexValueError, to_json

__all__ = [
    "ArgumentValidationError",
    "ConvexError",
    "ConvexValueError",
    "FunctionNotFoundError",
    "InvalidCursorError",
    "InvalidIdError",
    "LimitExceededError",
    "OptimisticConcurrencyControlFailure",
    "ReturnsValidationError",
    "SchemaValidationError",
    "error_data",
    "error_message",
]


class ConvexError(Exception):
    """An application error whose ``data`` (any Convex value) reaches the caller intact."""

    def __init__(self, data: Any = None) -> None:
        self.data = data
        super().__init__(_render_data(data))

    @property
    def message(self) -> str:
        return str(self)


def _render_data(data: Any) -> str:
    if isinstance(data, str):
        return data
    try:
        return json.dumps(to_json(data), separators=(",", ":"), ensure_ascii=False)
    except Exception:
        return repr(data)


class ArgumentValidationError(Exception):
    """Function arguments that do not match the function's ``args`` validator."""

    def __str__(self) -> str:
        return f"ArgumentValidationError: {super().__str__()}"


class ReturnsValidationError(Exception):
    """A return value that does not match the function's ``returns`` validator."""

    def __str__(self) -> str:
        return f"ReturnsValidationError: {super().__str__()}"


class SchemaValidationError(Exception):
    """A document that does not match its table's validator."""


class InvalidIdError(ValueError):
    """A string that does not decode as a document id."""


class FunctionNotFoundError(Exception):
    """No function, or no visible function, at the requested path."""


class LimitExceededError(Exception):
    """A transaction limit of Convex (reads, writes, scheduled functions) was exceeded."""


class OptimisticConcurrencyControlFailure(Exception):
    """A mutation whose reads kept being changed by other commits, on every retry (Convex's OCC failure)."""


class InvalidCursorError(Exception):
    """A pagination cursor that belongs to another query or cannot be decoded."""

    data = {"isConvexSystemError": True, "paginationError": "InvalidCursor"}


def error_message(error: BaseException) -> str:
    """The text a caller sees for ``error``, in Convex's ``Uncaught <Name>: <message>`` form."""
    if isinstance(
        error, (ArgumentValidationError, ReturnsValidationError, FunctionNotFoundError, OptimisticConcurrencyControlFailure)
    ):
        return str(error)
    if isinstance(error, ConvexError):
        return f"Uncaught {type(error).__name__}: {error}"
    name = "Error" if isinstance(error, Exception) else type(error).__name__
    return f"Uncaught {name}: {error}"


def error_data(error: BaseException) -> tuple[bool, Any]:
    """``(True, data)`` for a ConvexError, whose data must travel; ``(False, None)`` otherwise."""
    if isinstance(error, ConvexError):
        return True, error.data
    return False, None
