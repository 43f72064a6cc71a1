"""Stopping a query or mutation that runs past its time limit, pure computation included.

Queries and mutations run on the event loop thread and never suspend, so nothing cooperative can
stop ``while True: pass``: only database calls look at the clock. A watchdog thread therefore
keeps the deadline of the run in progress on each thread and, once it passes, raises
``FunctionTimeout`` *in that thread* (``PyThreadState_SetAsyncExc``); CPython delivers it at the
next bytecode boundary of the running code, wherever it is.

What keeps the injection from ever hitting anything but the runaway function:

- A run is registered by ``start`` and removed by ``finish``, both under one lock; the watchdog
  injects only under that lock and only while the run is still registered, at most once per run.
- An injection not yet delivered when the run finishes (it ended in the same instant) is
  cancelled by ``finish``, still under the lock.
- If the exception arrives inside ``finish`` itself, it propagates from the guarded region like
  any other delivery; callers convert it where they called ``start`` (see ``Executor``).

``FunctionTimeout`` derives from ``BaseException`` so that user code catching ``Exception`` cannot
swallow it; a mutation interrupted this way is rolled back like any failed mutation.

Time is the CPU time of the function's thread (as ``Transaction.check_time`` counts it), so a
function that waited for a busy CPU is not failed for it; wall time where no per-thread clock exists.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class FunctionTimeout(BaseException):
    """Raised into a function's thread when its time limit passes (converted by the executor)."""


def timeout_message(limit_s: float) -> str:
    """Convex's text for a function stopped at its time limit."""
    duration = f"{limit_s:g}s" if limit_s >= 1 else f"{limit_s * 1000:g}ms"
    return f"Function execution timed out (maximum duration: {duration})"


def _thread_clock(thread_id: int) -> Callable[[], float]:
    """A clock of the CPU time ``thread_id`` has used, readable from any thread."""
    try:
        clock_id = time.pthread_getcpuclockid(thread_id)
    except (AttributeError, OSError):
        return time.monotonic
    return functools.partial(time.clock_gettime, clock_id)


@dataclass(eq=False, slots=True)
class Run:
    """One guarded run: the thread it executes on, its clock, and when by that clock it must end."""

    thread_id: int
    clock: Callable[[], float]
    deadline: float
    fired: bool = False


class Watchdog:
    """Enforces the deadlines of guarded runs (see the module docstring); one per process."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._runs: dict[int, Run] = {}  # thread id → the run executing on it (at most one per thread)
        self._thread: threading.Thread | None = None

    def start(self, limit_s: float) -> Run:
        """Register the calling thread's run, which must ``finish`` within ``limit_s`` seconds."""
        thread_id = threading.get_ident()
        clock = _thread_clock(thread_id)
        run = Run(thread_id, clock, clock() + limit_s)
        with self._lock:
            self._runs[run.thread_id] = run
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="opencom-watchdog", daemon=True)
                self._thread.start()
            self._lock.notify()
        return run

    def finish(self, run: Run) -> None:
        """The run is over: it can no longer be interrupted, and a pending interruption is cancelled."""
        with self._lock:
            if self._runs.get(run.thread_id) is run:
                del self._runs[run.thread_id]
            if run.fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(run.thread_id), None)

    def _watch(self) -> None:
        with self._lock:
            while True:
                # A thread's CPU clock runs no faster than wall time: sleeping for the time a run
                # has left never oversleeps its deadline.
                remaining: list[float] = []
                for run in self._runs.values():
                    if run.fired:
                        continue
                    left = run.deadline - run.clock()
                    if left > 0:
                        remaining.append(left)
                        continue
                    run.fired = True
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(run.thread_id), ctypes.py_object(FunctionTimeout)
                    )
                self._lock.wait(min(remaining) if remaining else None)


WATCHDOG = Watchdog()
