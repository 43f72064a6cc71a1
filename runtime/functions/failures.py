"""How a function's failure reaches a client: one message string, plus ``errorData`` for ConvexError.

Convex prefixes every failure with ``[Request ID: <id>] Server Error`` and, in development, the
underlying ``Uncaught <Name>: <message>`` on the next line (convex-protocol §9.1). ConvexError data
travels separately and is never redacted; other errors carry no data at all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import msgspec
from msgspec import UNSET, Raw, UnsetType

from runtime.values.errors import ConvexValueError, error_data, error_message
from runtime.values.values import to_json

_request_ids = itertools.count(1)


def next_request_id() -> int:
    """A process-wide increasing id naming one request in error messages and the logs stream."""
    return next(_request_ids)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure ready for the wire: ``detail`` is the message without its request-id prefix."""

    detail: str
    data: Raw | UnsetType

    def message(self, request_id: int) -> str:
        return f"[Request ID: {request_id}] Server Error\n{self.detail}"

    def data_json(self) -> object:
        """``errorData`` as a JSON value, for responses built from dicts (check ``data`` is set first)."""
        assert self.data is not UNSET
        return msgspec.json.decode(self.data)


def describe(error: BaseException) -> Failure:
    """The client-visible parts of ``error``."""
    has_data, data = error_data(error)
    if not has_data:
        return Failure(error_message(error), UNSET)
    try:
        encoded: Raw | UnsetType = Raw(msgspec.json.encode(to_json(data)))
    except ConvexValueError:
        # Data that is not a Convex value cannot travel; the message still says what happened.
        encoded = UNSET
    return Failure(error_message(error), encoded)
