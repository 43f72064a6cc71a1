"""The one clock the backend reads: epoch milliseconds as float64, like JavaScript's ``Date.now()``.

It reads the runtime's clock, so tests that stop or advance time (``runtime.testing``) control it.
"""

from runtime import now_ms as runtime_now_ms


def now_ms() -> float:
    """Current time in whole epoch milliseconds, as the float every ``*At`` field stores."""
    return float(int(runtime_now_ms()))


DAY_MS = 86_400_000.0
HOUR_MS = 3_600_000.0
