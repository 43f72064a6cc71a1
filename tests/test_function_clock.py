"""The time limit's clock and its interruptions: garbage collection is not a function's time,
code inside ``WATCHDOG.shielded()`` (a database driver mid-statement) is never cut in half, an
interruption that lands where CPython drops it is made again, a short run started while the
watchdog sleeps for a long one is still stopped at its own deadline, and the bound deadlines are
taken from never falls below the clock while it reads the clock only once in a while."""

from __future__ import annotations

import gc
import sys
import threading
import time

import pytest

from runtime import knobs
from runtime.function_clock import cpu_seconds_since, function_time, function_time_bound, run_started
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


def test_a_deadline_passing_during_a_collection_is_not_lost_in_its_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collection longer than the run's limit: no interruption lands (and is dropped) in its callback."""
    dropped: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    garbage = [[index] for index in range(300_000)]
    for item in garbage:
        item.append(item)  # cycles: only a collection frees them
    del garbage
    run = WATCHDOG.start(0.02)
    try:
        with pytest.raises(FunctionTimeout):
            collection_cpu = time.thread_time()
            gc.collect()  # past the run's limit in CPU, none of it the function's
            collection_cpu = time.thread_time() - collection_cpu
            _spin(2.0)  # the interruption lands here
    finally:
        WATCHDOG.finish(run)
    assert collection_cpu > 0.02
    assert dropped == []


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


def _count_clock_reads(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """From now on, one entry per read of the thread's CPU clock."""
    reads: list[float] = []
    thread_time = time.thread_time

    def counted() -> float:
        reads.append(0.0)
        return thread_time()

    monkeypatch.setattr(time, "thread_time", counted)
    return reads


def test_the_bound_never_falls_below_the_clock_and_reads_it_once_in_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "CPU_CLOCK_REUSE_S", 3600.0)
    function_time_bound()  # a fresh reading, reused from now on
    reads = _count_clock_reads(monkeypatch)
    for _ in range(100):
        sum(range(20_000))  # some CPU between the readings
        now = function_time()
        assert function_time_bound() >= now
    assert len(reads) == 100  # the exact clock's reads only
    monkeypatch.setattr(knobs, "CPU_CLOCK_REUSE_S", 0.0)
    function_time_bound()
    assert len(reads) == 101


def test_a_run_is_timed_in_cpu_with_a_clock_read_only_past_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "CPU_CLOCK_REUSE_S", 3600.0)
    function_time_bound()  # a fresh reading, reused from now on
    reads = _count_clock_reads(monkeypatch)
    short = run_started()
    assert cpu_seconds_since(short, 10.0) < 10.0
    assert reads == []  # its wall time answered: the CPU time is no more
    waited = run_started()
    time.sleep(0.05)  # wall time, no CPU
    assert cpu_seconds_since(waited, 0.01) < 0.01  # past 10 ms of wall time: the CPU clock says how little
    assert len(reads) == 1
