"""The CPU clock a function's time limit counts: its thread's CPU time, garbage collection excluded.

A collection runs in whichever thread happens to allocate when a threshold trips, and a full one
over a large heap can take longer than a function's whole limit. That time belongs to the process,
not to the function that was unlucky enough to trigger it, so no limit counts it.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from runtime import knobs

# Thread id → CPU seconds that thread has spent in garbage collection, in total. Each entry is written
# only by its own thread (collections run in the thread that triggers them); readers may be any thread.
_collecting: dict[int, float] = {}
# Thread id → the thread's CPU clock when the collection now running in it started.
_started: dict[int, float] = {}


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    thread_id = threading.get_ident()
    now = time.thread_time()
    if phase == "start":
        _started[thread_id] = now
        return
    began = _started.pop(thread_id, None)
    if began is not None:
        _collecting[thread_id] = _collecting.get(thread_id, 0.0) + now - began


gc.callbacks.append(_on_collection)


def collection_seconds(thread_id: int) -> float:
    """CPU seconds ``thread_id`` has spent collecting garbage so far."""
    return _collecting.get(thread_id, 0.0)


def function_time() -> float:
    """The calling thread's CPU seconds, garbage collection excluded (a clock: compare differences)."""
    return time.thread_time() - _collecting.get(threading.get_ident(), 0.0)


# The calling thread's last reading of ``function_time``: (its value, ``time.perf_counter()`` just before).
_last_reading = threading.local()


def function_time_bound() -> float:
    """At least ``function_time()`` now, and more by no more than ``knobs.CPU_CLOCK_REUSE_S``.

    Reading a thread's CPU clock is a system call made while holding the interpreter lock, and on
    a loaded machine one can cost the thread its time slice, every other thread waiting. A deadline
    needs only a bound: a thread's CPU time grows no faster than wall time, so a reading taken
    less than ``CPU_CLOCK_REUSE_S`` ago plus the wall time since is one.
    """
    now = time.perf_counter()
    last = getattr(_last_reading, "value", None)
    if last is not None and now - last[1] < knobs.CPU_CLOCK_REUSE_S:
        return last[0] + (now - last[1])
    value = function_time()
    _last_reading.value = (value, now)
    return value
