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
