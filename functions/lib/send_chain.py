"""The chain of scheduled steps a campaign send runs as (email and push share it).

A campaign document carries ``sendRun`` (which chain is current), ``sendPhase`` ("resolving" while
its visitors are walked, "delivering" while a remote provider is handed batches, "done"),
``sendCursor`` (the ``_creationTime`` of the last visitor examined) and ``lastStepAt``. Every step
is scheduled with ``{campaignId, run}`` and does nothing unless ``run`` is the campaign's current
run and the campaign is sending, so pause, resume, removal and a backstop restart never leave two
chains walking one campaign. Each step's writes and the scheduling of the next commit together.
"""

from dataclasses import dataclass
from typing import Any

from .clock import now_ms
from .identity import Doc

STALE_AFTER_MS = 5 * 60_000  # a "sending" campaign whose last step is older is restarted by the backstop


@dataclass(frozen=True)
class Chain:
    """One kind of campaign: its table, its two step functions and its counters before a send."""

    table: str
    resolve_step: str  # internal mutation: the next page of visitors
    deliver_step: str  # internal action: the next batch for a remote provider
    empty_stats: tuple[str, ...]


async def start(ctx: Any, chain: Chain, campaign: Doc, resume: bool) -> str:
    """Begin (or resume) the campaign's send under a new run; returns its new status."""
    now = now_ms()
    schedule = campaign.get("schedule") or {}
    at = schedule.get("scheduledAt") if schedule.get("type") == "scheduled" else None
    status = "scheduled" if at is not None and at > now else "sending"
    run = float(campaign.get("sendRun", 0) + 1)
    changes: dict[str, Any] = {"status": status, "sendRun": run, "lastStepAt": now, "updatedAt": now}
    if not resume:
        changes |= {"sendPhase": "resolving", "stats": {name: 0.0 for name in chain.empty_stats}}
    await ctx.db.patch(campaign["_id"], changes)
    step_args = {"campaignId": campaign["_id"], "run": run}
    if status == "scheduled":
        await ctx.scheduler.run_at(at, chain.resolve_step, step_args)
    else:
        await next_step(ctx, chain, campaign | changes, step_args)
    return status


async def next_step(ctx: Any, chain: Chain, campaign: Doc, step_args: dict[str, Any], delay_ms: float = 0) -> None:
    """Schedule what the campaign's phase needs next: a resolving step or a delivery batch."""
    target = chain.deliver_step if campaign.get("sendPhase") == "delivering" else chain.resolve_step
    await ctx.scheduler.run_after(delay_ms, target, step_args)


async def live(ctx: Any, campaign_id: str, run: float) -> Doc | None:
    """The campaign when ``run`` is its current run and it is (or is now due to start) sending."""
    campaign = await ctx.db.get(campaign_id)
    if campaign is None or campaign.get("sendRun") != run:
        return None
    if campaign["status"] == "scheduled" and (campaign.get("schedule") or {}).get("scheduledAt", 0) <= now_ms():
        await ctx.db.patch(campaign["_id"], {"status": "sending"})
        campaign = {**campaign, "status": "sending"}
    return campaign if campaign["status"] == "sending" else None


async def restart_stalled(ctx: Any, chain: Chain, limit: int) -> int:
    """Give "sending" campaigns whose last step is older than ``STALE_AFTER_MS`` a new run; returns how many."""
    stalled = ctx.db.query(chain.table).with_index(
        "by_status_step", lambda q: q.eq("status", "sending").lt("lastStepAt", now_ms() - STALE_AFTER_MS)
    )
    restarted = await stalled.take(limit)
    for campaign in restarted:
        await start(ctx, chain, campaign, resume=True)
    return len(restarted)
