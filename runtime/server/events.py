"""An in-process bus of function executions, for ``opencom logs`` and the server's stats.

Every execution the server performs (a subscription re-run, a WebSocket mutation, an HTTP action…)
is published once. Publishing never blocks and never fails: each listener has a bounded queue,
and a listener that falls behind loses its oldest events rather than slowing the server down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runtime import knobs
from runtime.functions.executor import FunctionResult
from runtime.functions.failures import describe


@dataclass(frozen=True, slots=True)
class FunctionEvent:
    """One finished execution: what ran, how long it took, how it ended, what it logged."""

    path: str
    kind: str  # "query", "mutation" or "action"
    duration_ms: float
    success: bool
    log_lines: list[str]
    error: str | None
    timestamp_ms: float  # wall clock when it finished
    request_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp_ms,
            "path": self.path,
            "kind": self.kind,
            "durationMs": round(self.duration_ms, 3),
            "outcome": "success" if self.success else "failure",
            "error": self.error,
            "logLines": self.log_lines,
            "requestId": self.request_id,
        }


def event_for(
    path: str, kind: str, started: float, result: FunctionResult, request_id: int | None = None
) -> FunctionEvent:
    """The event for ``result``, produced by an execution that began at ``time.perf_counter()`` ``started``."""
    error = describe(result.error).detail if result.error is not None else None
    return FunctionEvent(
        path=path,
        kind=kind,
        duration_ms=(time.perf_counter() - started) * 1000.0,
        success=result.error is None,
        log_lines=list(result.log_lines),
        error=error,
        timestamp_ms=time.time() * 1000.0,
        request_id=request_id,
    )


class EventBus:
    """Fans function events out to any number of listeners (see the module docstring)."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue[FunctionEvent]] = set()
        self.published = 0

    def publish(self, event: FunctionEvent) -> None:
        self.published += 1
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @contextmanager
    def listen(self) -> Iterator[asyncio.Queue[FunctionEvent]]:
        """A queue receiving every event published while the block runs."""
        queue: asyncio.Queue[FunctionEvent] = asyncio.Queue(maxsize=knobs.LOG_STREAM_BUFFER)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)
