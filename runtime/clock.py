"""The wall clock the runtime reads: ``now_ms()``, Convex's ``Date.now()``, and a clock tests can stop.

Everything time-based in the runtime — when a scheduled function is due, when a cron ticks, a
document's ``_creationTime``, a job's ``completedTime`` — reads ``now_ms()``. Apps should read it
too (``from runtime import now_ms``) instead of ``time.time()``, so that a test harness holding a
``ManualClock`` controls what every function sees: time stands still until the test moves it.

The installed clock is process-wide: there is one "now" per process, as there is one
``Date.now()`` per Convex deployment. Commit timestamps are not wall time and do not use it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of "now" in milliseconds since the epoch."""

    def now_ms(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> float:
        return time.time() * 1000.0


class ManualClock:
    """A clock that moves only when told to (``advance``); starts at the real time, whole milliseconds."""

    def __init__(self, start_ms: float | None = None) -> None:
        self._now = float(int(time.time() * 1000.0)) if start_ms is None else float(start_ms)

    def now_ms(self) -> float:
        return self._now

    def advance(self, milliseconds: float) -> float:
        """Move time forward by ``milliseconds`` (never back); returns the new now."""
        if milliseconds < 0:
            raise ValueError("time can only move forward")
        self._now += float(milliseconds)
        return self._now


SYSTEM_CLOCK = SystemClock()
_installed: Clock = SYSTEM_CLOCK


def now_ms() -> float:
    """Now, in milliseconds since the epoch (a float, as Convex times are)."""
    return _installed.now_ms()


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; returns the one it replaces (to restore it later)."""
    global _installed
    previous, _installed = _installed, clock
    return previous


def installed() -> Clock:
    """The clock ``now_ms`` reads."""
    return _installed
