"""The time limit's clock and its interruptions: garbage collection is not a function's time,
code inside ``WATCHDOG.shielded()`` (a database driver mid-statement) is never cut in half, an
interruption that lands where CPython drops it is made again, a short run started while the
watchdog sleeps for a long one is still stopped at its own deadline, and the bound deadlines are
taken from never falls below the clock while it reads the clock only once in a while."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from runtime import knobs
from runtime.function_clock import function_time, function_time_bound
from runtime.time_limit import WATCHDOG, FunctionTimeout


def _spin(seconds: float) -> None:
    """Burn this thread's CPU for ``seconds`` (the watchdog's clock is CPU time)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_collections_do_not_count_as_function_time() -> None:
    garbage = [[index] for index in range(300_000)]
    for item in garbage:
        item.append(item)  # cycles: only a collection frees them
    del garbage
    before_cpu, before_function = time.thread_time(), function_time()
    gc.collect()
    spent_cpu = time.thread_time() - before_cpu
    spent_function = function_time() - before_function
    assert spent_cpu > 0.01
    assert spent_function < spent_cpu / 10


def test_an_interruption_waits_for_the_shielded_region_to_end() -> None:
    run = WATCHDOG.start(0.02)
    reached_end_of_region = False
    try:
        with pytest.raises(FunctionTimeout):
            with WATCHDOG.shielded():
                _spin(0.15)  # well past the deadline: the watchdog must hold its fire
                reached_end_of_region = True
            _spin(2.0)  # the deferred interruption lands here, right after the region
    finally:
        WATCHDOG.finish(run)
    assert reached_end_of_region


def test_an_interruption_swallowed_where_python_drops_it_is_made_again() -> None:
    """An asynchronous exception delivered inside a finalizer is printed and dropped by CPython."""
    swallowed: list[BaseException] = []

    class Finalized:
        def __del__(self) -> None:
            try:
                _spin(0.2)  # the deadline passes in here, so the interruption lands in here
            except BaseException as error:  # noqa: BLE001 - what CPython would drop anyway
                swallowed.append(error)

    run = WATCHDOG.start(0.02)
    try:
        with pytest.raises(FunctionTimeout):
            Finalized()  # dropped at once: its finalizer runs now
            _spin(2.0)  # the watchdog strikes again here
    finally:
        WATCHDOG.finish(run)
    assert [type(error) for error in swallowed] == [FunctionTimeout]


def test_a_short_run_is_stopped_while_the_watchdog_waits_for_a_long_one() -> None:
    started, done = threading.Event(), threading.Event()

    def long_run() -> None:
        run = WATCHDOG.start(60.0)  # the watchdog now sleeps for up to a minute
        started.set()
        done.wait(10)
        WATCHDOG.finish(run)

    other = threading.Thread(target=long_run)
    other.start()
    try:
        assert started.wait(10)
        run = WATCHDOG.start(0.02)
        try:
            with pytest.raises(FunctionTimeout):
                _spin(5.0)  # stopped long before the long run's deadline
        finally:
            WATCHDOG.finish(run)
    finally:
        done.set()
        other.join()


def test_the_bound_never_falls_below_the_clock_and_reads_it_once_in_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[float] = []
    thread_time = time.thread_time

    def counted() -> float:
        reads.append(0.0)
        return thread_time()

    monkeypatch.setattr(knobs, "CPU_CLOCK_REUSE_S", 3600.0)
    function_time_bound()  # a fresh reading, reused from now on
    monkeypatch.setattr(time, "thread_time", counted)
    for _ in range(100):
        sum(range(20_000))  # some CPU between the readings
        now = function_time()
        assert function_time_bound() >= now
    assert len(reads) == 100  # the exact clock's reads only
    monkeypatch.setattr(knobs, "CPU_CLOCK_REUSE_S", 0.0)
    function_time_bound()
    assert len(reads) == 101
