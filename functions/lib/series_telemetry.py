"""Per-block counters of a series (``seriesBlockTelemetry``), written by the runtime in the same
transaction as the progress they describe, so a retried or repeated step never counts twice.

``entered`` counts executions of the block (a retry enters it again), ``completed``/``failed`` their
outcomes (a wait block completes when it resumes), ``skipped`` progress that left the series while
on the block (exit or goal rules), ``deliveryAttempts``/``deliveryFailures`` message blocks' sends,
and the branch counts which connection a rule block took.
"""

from typing import Any

from .clock import now_ms

COUNTERS = ("entered", "completed", "skipped", "failed", "deliveryAttempts", "deliveryFailures")
BRANCH_COUNTERS = ("yesBranchCount", "noBranchCount", "defaultBranchCount")


async def count(ctx: Any, series_id: str, block_id: str, counts: dict[str, float], last_result: dict[str, Any] | None = None) -> None:
    """Add ``counts`` to the block's row (created on first use) and record ``last_result``."""
    rows = ctx.db.query("seriesBlockTelemetry").with_index(
        "by_series_block", lambda q: q.eq("seriesId", series_id).eq("blockId", block_id)
    )
    row = await rows.first()
    changes: dict[str, Any] = {"updatedAt": now_ms()}
    if last_result is not None:
        changes["lastResult"] = last_result
    if row is None:
        fresh = {name: float(counts.get(name, 0)) for name in COUNTERS}
        branches = {name: float(counts[name]) for name in BRANCH_COUNTERS if name in counts}
        await ctx.db.insert("seriesBlockTelemetry", {"seriesId": series_id, "blockId": block_id, **fresh, **branches, **changes})
        return
    for name, amount in counts.items():
        changes[name] = float(row.get(name, 0) + amount)
    await ctx.db.patch(row["_id"], changes)
