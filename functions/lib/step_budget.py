"""How much one step of background work (a campaign's send page) does before handing the writer back.

Mutations run one after another on the writer, so a client's mutation that arrives while a send
step runs waits for all of it. A step therefore stops once it has worked ``STEP_BUDGET_S`` and
leaves the rest of its page to the next step; its cursor commits with what it did, so stopping
anywhere loses and repeats nothing. The budget is wall time measured inside the transaction: a
retried step may stop at a different visitor, which changes only where the next step begins.
"""

import time

STEP_BUDGET_S = 0.002  # about one small client mutation: the most a send step adds to one's latency


class StepBudget:
    """A deadline started when the step starts; ``spent`` once the step has worked its budget."""

    def __init__(self, seconds: float = STEP_BUDGET_S) -> None:
        self._ends = time.perf_counter() + seconds

    def spent(self) -> bool:
        return time.perf_counter() >= self._ends
