"""How a server process is tuned once it has started: the garbage collector and thread switching.

Apart from ``runtime.server.app`` because the re-run worker processes (``runtime.server.rerun_processes``)
that the server starts take the same collector settings.
"""

from __future__ import annotations

import gc
import sys

from runtime import knobs


def tune_garbage_collection() -> None:
    """Settle the collector for a long-running server, once everything start-up loads is in place.

    The app's modules, schema and caches live as long as the process: ``gc.freeze`` moves them out
    of every later collection, and a larger first generation makes collections rarer (each request
    allocates many short-lived objects that reference counting frees anyway).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(knobs.GC_GENERATION0_THRESHOLD, 20, 20)


def tune_thread_switching() -> None:
    """Hand the interpreter lock between threads every ``knobs.GIL_SWITCH_INTERVAL_S``.

    A function that computes on a worker thread (``runtime.database.off_loop``, ``runtime.database.optimistic``)
    holds the lock until asked to give it up; the event loop, serving everyone else, asks each
    time it wakes. CPython's 5 ms default makes each of a request's several wake-ups wait up to
    that long behind a runaway; a shorter interval only costs when threads compete at all.
    """
    sys.setswitchinterval(knobs.GIL_SWITCH_INTERVAL_S)
