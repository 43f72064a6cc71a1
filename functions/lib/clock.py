"""The one clock the backend reads: epoch milliseconds as float64, like JavaScript's ``Date.now()``."""

import time


def now_ms() -> float:
    """Current time in whole epoch milliseconds, as the float every ``*At`` field stores."""
    return float(time.time_ns() // 1_000_000)


DAY_MS = 86_400_000.0
HOUR_MS = 3_600_000.0
