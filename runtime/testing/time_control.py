"""The harness's clock: time stands still until the test moves it, and moving it runs what falls due.

While any harness is open, the process clock (``runtime.clock``) is one shared ``ManualClock``:
one "now" for every harness of a test, as a test has one ``Date.now()`` under fake timers.

Moving time walks through every due time on the way, in order: at each, the cron ticks due then
run to completion and the scheduled functions due then are *started* (they are "in progress"
until ``finish_in_progress`` awaits them), as ``vi.advanceTimersByTime`` fires timers in
convex-test. Nothing runs while time stands still.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime import clock

if TYPE_CHECKING:
    from runtime.functions.executor import Executor

DEFAULT_MAX_ITERATIONS = 100
_shared_clock: clock.ManualClock | None = None
_holders = 0
_previous: clock.Clock | None = None


class EndlessSchedulingError(RuntimeError):
    """``finish_all_scheduled_functions`` kept finding new jobs: a function reschedules itself forever."""


def acquire_clock(start_ms: float | None) -> clock.ManualClock:
    """The shared manual clock, installed by the first harness to open (at ``start_ms`` if given)."""
    global _shared_clock, _holders, _previous
    if _shared_clock is None:
        _shared_clock = clock.ManualClock(start_ms)
        _previous = clock.install(_shared_clock)
    _holders += 1
    return _shared_clock


def release_clock() -> None:
    """The last harness to close puts the previous clock back."""
    global _shared_clock, _holders, _previous
    _holders -= 1
    if _holders == 0 and _previous is not None:
        clock.install(_previous)
        _shared_clock, _previous = None, None


class TimeControl:
    """Drives one executor's scheduled functions and crons from the shared manual clock."""

    def __init__(self, executor: Executor, manual: clock.ManualClock) -> None:
        self._executor = executor
        self._clock = manual
        # Scheduled functions started and not yet finished, by job id (convex-test's "in progress").
        self._in_progress: dict[str, asyncio.Task[None]] = {}

    def now_ms(self) -> float:
        return self._clock.now_ms()

    async def advance(self, milliseconds: float) -> None:
        """Move time forward, running every cron tick and starting every job that falls due on the way."""
        if milliseconds < 0:
            raise ValueError("advance_time: time can only move forward")
        target = self._clock.now_ms() + milliseconds
        fired_at: float | None = None
        while True:
            upcoming = self._next_due()
            if upcoming is None or upcoming > target:
                break
            moment = max(upcoming, self._clock.now_ms())
            if moment == fired_at:
                break  # what falls due at an instant already fired waits for time to move again
            self._clock.advance(moment - self._clock.now_ms())
            await self._fire_due()
            fired_at = moment
        if fired_at != target:
            self._clock.advance(target - self._clock.now_ms())
            await self._fire_due()

    async def finish_in_progress(self) -> None:
        """Wait until every started scheduled function has finished (jobs they schedule are not started)."""
        while self._in_progress:
            await asyncio.gather(*list(self._in_progress.values()))

    async def finish_all(self, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> None:
        """Run scheduled functions, jumping time to each next one, until none is pending.

        Crons falling due on the way run too, but do not keep this going on their own.
        """
        for _ in range(max_iterations):
            await self.finish_in_progress()
            waiting = self._waiting_jobs()
            if not waiting:
                return
            await self.advance(max(0.0, waiting[0][0] - self._clock.now_ms()))
        raise EndlessSchedulingError(
            "finish_all_scheduled_functions: too many iterations. Check for infinitely recursive scheduled "
            "functions, or increase max_iterations."
        )

    async def close(self) -> None:
        for task in self._in_progress.values():
            task.cancel()
        await asyncio.gather(*self._in_progress.values(), return_exceptions=True)

    def _waiting_jobs(self) -> list[tuple[float, str]]:
        """Pending jobs not started yet, as (due time, id), in due order."""
        jobs = self._executor.job_runner.pending_jobs()
        waiting = ((job["scheduledTime"], str(job["_id"])) for job in jobs if str(job["_id"]) not in self._in_progress)
        return [(float(due), job_id) for due, job_id in waiting if isinstance(due, float)]

    def _next_due(self) -> float | None:
        times = [due for due, _ in self._waiting_jobs()[:1]]
        cron = self._executor.cron_runner.next_due()
        if cron is not None:
            times.append(cron)
        return min(times, default=None)

    async def _fire_due(self) -> None:
        await self._executor.cron_runner.run_due()
        now = self._clock.now_ms()
        for due, job_id in self._waiting_jobs():
            if due > now:
                break
            self._in_progress[job_id] = asyncio.get_running_loop().create_task(self._run_job(job_id))
        await asyncio.sleep(0)  # let the started jobs begin at this instant

    async def _run_job(self, job_id: str) -> None:
        try:
            await self._executor.job_runner.run_job(job_id)
        finally:
            self._in_progress.pop(job_id, None)
