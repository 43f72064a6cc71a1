"""The chain of scheduled steps a campaign send runs as (email and push share it).

A campaign document carries ``sendRun`` (which chain is current), ``sendPhase`` ("resolving" while
its visitors are walked, "delivering" while a remote provider is handed batches, "done"),
``sendCursor`` (the ``_creationTime`` of the last visitor examined) and ``lastStepAt``. Every step
is scheduled with ``{campaignId, run}`` and does nothing unless ``run`` is the campaign's current
run and the campaign is sending, so pause, resume, removal and a backstop restart never leave two
chains walking one campaign. Each step's writes and the scheduling of the next commit together.
Editing a draft and removing a campaign, which must respect a send in progress, are here too.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .authoring import managed, purge_batch
from .clock import now_ms
from .errors import INVALID_INPUT, fail
from .identity import Doc

STALE_AFTER_MS = 5 * 60_000  # a "sending" campaign whose last step is older is restarted by the backstop
RETRY_DELAY_MS = 30_000  # the wait before a batch that holds recipients to retry

# Records one refused recipient (its patch and counters); returns whether it is to be retried.
RecordFailure = Callable[[Any, Doc, dict[str, Any], dict[str, float]], Awaitable[bool]]


@dataclass(frozen=True)
class Chain:
    """One kind of campaign: its tables, its step functions and its counters before a send."""

    table: str
    resolve_step: str  # internal mutation: the next page of visitors
    deliver_step: str  # internal action: the next batch for a remote provider
    empty_stats: tuple[str, ...]
    recipients: str  # the table of its recipients (``campaignId`` indexed ``by_campaign``)
    purge_step: str  # internal mutation: the next batch of a removed campaign's recipients


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


async def record_answers(
    ctx: Any,
    chain: Chain,
    campaign_id: str,
    run: float,
    results: list[dict[str, Any]],
    stats_of: Callable[[Doc], dict[str, float]],
    record_failure: RecordFailure,
) -> None:
    """Record a provider's answers (``{recipientId, ok, error?}``) for a claimed batch, then schedule the
    next step. Only this campaign's "sending" recipients count, so a late or repeated answer changes
    nothing; ``ok`` None (possibly accepted) leaves the recipient "sending", never resent."""
    campaign = await ctx.db.get(campaign_id)
    if campaign is None:
        return
    stats, now, retry = stats_of(campaign), now_ms(), False
    for result in results:
        recipient = await ctx.db.get(result["recipientId"])
        if recipient is None or recipient["campaignId"] != campaign_id or recipient["status"] != "sending" or result["ok"] is None:
            continue
        if result["ok"]:
            await ctx.db.patch(recipient["_id"], {"status": "sent", "sentAt": now})
            stats["pending"], stats["sent"] = max(0.0, stats["pending"] - 1), stats["sent"] + 1
        elif await record_failure(ctx, recipient, result, stats):
            retry = True
    await ctx.db.patch(campaign_id, {"stats": stats, "lastStepAt": now, "updatedAt": now})
    if campaign.get("sendRun") == run and campaign["status"] == "sending":
        await next_step(ctx, chain, campaign, {"campaignId": campaign_id, "run": run}, RETRY_DELAY_MS if retry else 0)


async def draft_campaign(ctx: Any, campaign_id: str, permission: str) -> Doc:
    """The campaign for an agent holding ``permission``, when it is still a draft: once its send has
    started, some recipients already have what it says, so it can no longer change."""
    campaign, _ = await managed(ctx, campaign_id, "Campaign", permission)
    if campaign["status"] == "sent":
        fail(INVALID_INPUT, "Cannot update sent campaign")
    if campaign["status"] != "draft":
        fail(INVALID_INPUT, "Cannot update a campaign once sending has started")
    return campaign


async def remove_campaign(ctx: Any, chain: Chain, campaign_id: str, permission: str) -> None:
    """Delete the campaign for an agent holding ``permission``: a send in progress stops (its next
    step finds no campaign), and its recipients go in scheduled batches, as one transaction could
    not delete them all."""
    campaign, _ = await managed(ctx, campaign_id, "Campaign", permission)
    await ctx.db.delete(campaign["_id"])
    await ctx.scheduler.run_after(0, chain.purge_step, {"campaignId": campaign["_id"]})


async def purge_recipients(ctx: Any, chain: Chain, campaign_id: str, batch: int) -> None:
    """Delete one batch of a removed campaign's recipients, scheduling ``chain.purge_step`` for the rest."""
    await purge_batch(ctx, chain.recipients, "campaignId", campaign_id, chain.purge_step, batch)
