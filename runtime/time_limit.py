"""Stopping a function that runs past its time limit, pure computation included.

Queries and mutations run on the event loop thread and never suspend, so nothing cooperative can
stop ``while True: pass``: only database calls look at the clock. A watchdog thread therefore
keeps the deadline of the run in progress on each thread and, once it passes, raises
``FunctionTimeout`` *in that thread* (``PyThreadState_SetAsyncExc``); CPython delivers it at the
next bytecode boundary of the running code, wherever it is.

What keeps the injection from ever hitting anything but the runaway function:

- A run is registered by ``start`` and removed by ``finish``, both under one lock; the watchdog
  injects only under that lock and only while the run is still registered.
- CPython drops an exception raised inside a garbage-collection callback or a finalizer (it prints
  "Exception ignored in …"), and an asynchronous one can land there: a run still registered
  ``REFIRE_S`` of its own time after an injection is therefore interrupted again.
- An injection not yet delivered when the run finishes (it ended in the same instant) is
  cancelled by ``finish``, still under the lock.
- If the exception arrives inside ``finish`` itself, it propagates from the guarded region like
  any other delivery; callers convert it where they called ``start`` (see ``Executor``).

``FunctionTimeout`` derives from ``BaseException`` so that user code catching ``Exception`` cannot
swallow it; a mutation interrupted this way is rolled back like any failed mutation.

Actions await, so ``asyncio.wait_for`` stops one that waits too long; ``StepLimited`` guards each
step it runs on the loop by the same wall-clock deadline, so one that computes without awaiting is
stopped too. A query an action runs nests inside that step: only the innermost run is interrupted.

Time is the CPU time of the function's thread (as ``Transaction.check_time`` counts it), so a
query or mutation that waited for a busy CPU is not failed for it (wall time where no per-thread
clock exists, and for actions, whose limit is wall time as in Convex).
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runtime.function_clock import collection_seconds, function_time_bound


class FunctionTimeout(BaseException):
    """Raised into a function's thread when its time limit passes (converted by the executor)."""


class LoopBudgetSpent(BaseException):
    """Raised into the event loop thread when a function used up its CPU budget there.

    Not an error: the executor discards the attempt and runs the function again, from the start,
    on a worker thread (``runtime.database.off_loop``), so that other clients keep being served.
    """


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
    return lambda: time.clock_gettime(clock_id) - collection_seconds(thread_id)


REFIRE_S = 0.05  # a run's time after an injection at which, still running, it gets another


@dataclass(eq=False, slots=True)
class Run:
    """One guarded run: the thread it executes on, its clock, and when by that clock it must end."""

    thread_id: int
    clock: Callable[[], float]
    deadline: float
    error: type[BaseException] = FunctionTimeout  # what the watchdog raises in the thread at the deadline
    fired: bool = False  # injected at least once: ``finish`` cancels one not yet delivered


class Watchdog:
    """Enforces the deadlines of guarded runs (see the module docstring); one per process."""

    def __init__(self) -> None:
        # Guarded threads take the C lock itself with ``with``: an interruption raised in such a
        # thread can land at any Python bytecode, and ``Condition.__enter__``/``__exit__`` are
        # Python code, so one landing there would leave the lock held for good and every other
        # thread that starts a run waiting forever. Only the watchdog's own thread uses the condition.
        self._mutex = threading.RLock()
        self._lock = threading.Condition(self._mutex)
        # Thread id → its guarded runs, innermost last: a query an action runs nests in the action's
        # step. Only the innermost is executing, so only it is ever interrupted; the outer one is
        # checked again once the inner one has finished.
        self._runs: dict[int, list[Run]] = {}
        self._thread: threading.Thread | None = None
        # When the watchdog thread looks at the runs next (``time.monotonic``; inf while it waits for
        # one): ``start`` wakes it only for a run that may be due before then, and ``finish`` only for
        # an outer run, so that guarding a short function costs no thread switch.
        self._wakes_at = math.inf
        # Thread id → how many ``shielded`` regions it is inside: no interruption lands there.
        self._shielded: dict[int, int] = {}

    def start(
        self, limit_s: float, *, wall_deadline: float | None = None, error: type[BaseException] = FunctionTimeout
    ) -> Run:
        """Register the calling thread's run, which must ``finish`` within ``limit_s`` seconds of CPU.

        With ``wall_deadline`` (a ``time.monotonic()`` instant) the run must finish by then instead.
        ``error`` is the exception raised in the thread if it does not.
        """
        thread_id = threading.get_ident()
        now = time.monotonic()
        if wall_deadline is not None:
            run = Run(thread_id, time.monotonic, wall_deadline, error)
            due = wall_deadline
        else:
            clock = _thread_clock(thread_id)
            # The thread's own CPU clock, read for a bound only (``function_time_bound``).
            started = clock() if clock is time.monotonic else function_time_bound()
            run = Run(thread_id, clock, started + limit_s, error)
            due = now + limit_s  # a CPU clock runs no faster than wall time: not due before then
        with self._mutex:
            self._runs.setdefault(thread_id, []).append(run)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="opencom-watchdog", daemon=True)
                self._thread.start()
            if self._wakes_at > due:
                self._lock.notify()
        return run

    def finish(self, run: Run) -> None:
        """The run is over: it can no longer be interrupted, and a pending interruption is cancelled."""
        with self._mutex:
            stack = self._runs.get(run.thread_id, [])
            if run in stack:
                stack.remove(run)
            if not stack:
                self._runs.pop(run.thread_id, None)
            if run.fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(run.thread_id), None)
            if stack:
                self._lock.notify()  # an outer run may be due already

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Defer interruptions of the calling thread while it runs code that must not stop halfway.

        A database driver written in Python, stopped mid-protocol, leaves its connection unusable;
        a deadline that passes inside the region fires as soon as the region ends.
        """
        thread_id = threading.get_ident()
        with self._mutex:
            self._shielded[thread_id] = self._shielded.get(thread_id, 0) + 1
        try:
            yield
        finally:
            with self._mutex:
                left = self._shielded[thread_id] - 1
                if left:
                    self._shielded[thread_id] = left
                else:
                    del self._shielded[thread_id]
                self._lock.notify()

    def _watch(self) -> None:
        with self._lock:
            while True:
                # A thread's CPU clock runs no faster than wall time: sleeping for the time a run
                # has left never oversleeps its deadline.
                remaining: list[float] = []
                for thread_id, stack in self._runs.items():
                    run = stack[-1]
                    if thread_id in self._shielded:
                        continue
                    left = run.deadline - run.clock()
                    if left > 0:
                        remaining.append(left)
                        continue
                    run.fired = True
                    run.deadline += REFIRE_S - left  # REFIRE_S from now, if this one is swallowed (see above)
                    remaining.append(REFIRE_S)
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(run.thread_id), ctypes.py_object(run.error)
                    )
                timeout = min(remaining) if remaining else None
                self._wakes_at = math.inf if timeout is None else time.monotonic() + timeout
                self._lock.wait(timeout)


WATCHDOG = Watchdog()


class StepLimited:
    """Awaits a coroutine with every step it runs guarded by ``WATCHDOG`` up to a wall-clock deadline.

    ``asyncio.wait_for`` only fires while the coroutine is suspended; an action computing without
    awaiting is stopped by the watchdog instead. Awaiting this raises ``FunctionTimeout`` either way.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, Any], deadline: float) -> None:
        self._coroutine = coroutine
        self._deadline = deadline

    def __await__(self) -> Generator[Any, Any, Any]:
        return self

    def __iter__(self) -> StepLimited:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        return self._step(self._coroutine.send, value)

    def throw(self, error: BaseException) -> Any:
        return self._step(self._coroutine.throw, error)

    def close(self) -> None:
        self._coroutine.close()

    def _step(self, resume: Callable[[Any], Any], value: Any) -> Any:
        run = WATCHDOG.start(0.0, wall_deadline=self._deadline)
        try:
            return resume(value)
        finally:
            WATCHDOG.finish(run)
