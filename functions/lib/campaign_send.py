"""Sending an email campaign: a chain of scheduled mutations (``send_chain``), each one bounded transaction.

Invariants:

* Recipients are resolved at send time by walking the workspace's visitors oldest first, one page
  (``RESOLVE_PAGE``) per mutation. The page's recipients and the campaign's ``sendCursor`` (the
  last visitor's ``_creationTime``) commit together, so a visitor is examined once however often a
  step is retried or the server restarts: the scheduler re-runs an uncommitted step, never a
  committed one.
* With the outbox provider (the default) a recipient is written, handed to the provider and marked
  "sent" in the same transaction: the outbox holds exactly one email per recipient.
* With SMTP (``OPENCOM_SMTP_HOST`` set) a mutation cannot talk to the network, so an action claims
  a batch (status "sending"), sends it and confirms each address the server accepted ("sent") or
  refused (back to "pending", "bounced" after ``MAX_ATTEMPTS``). A crash between claim and confirm
  leaves the claimed rows "sending" forever, counted as ``unconfirmed``: never sent twice, and
  never called sent without the server's word.
* A backstop cron restarts a "sending" campaign whose chain stopped (``send_chain``).
"""

from typing import Any

from runtime import UNDEFINED

from .audience import Evaluation, resolve_targeting
from .campaign_email import DEFAULT_SENDER, new_tracking_token, render
from .clock import now_ms
from .email_provider import send_email
from .identity import Doc
from .send_chain import Chain, live, next_step, record_answers
from .smtp_provider import smtp_settings
from .step_budget import StepBudget
from .visitor_census import visitors_after

RESOLVE_PAGE = 25  # the most visitors one step examines; its time budget (``step_budget``) usually stops it sooner
SMTP_BATCH = 25  # recipients one SMTP action claims
MAX_ATTEMPTS = 3  # SMTP refusals before a recipient counts as bounced
STAT_NAMES = ("pending", "sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")
EMAIL = Chain(
    "emailCampaigns",
    "emailCampaigns:sendStep",
    "emailCampaigns:deliverSmtpBatch",
    STAT_NAMES,
    "emailCampaignRecipients",
    "emailCampaigns:purgeRecipients",
)


def stats_of(campaign: Doc) -> dict[str, float]:
    """The campaign's counters, every one present (missing counters are 0; pending falls back to recipientCount)."""
    stored = campaign.get("stats")
    if not stored:
        return {name: float(campaign.get("recipientCount", 0) if name == "pending" else 0) for name in STAT_NAMES}
    stats = {name: float(stored.get(name, 0)) for name in STAT_NAMES}
    if "unconfirmed" in stored:
        stats["unconfirmed"] = float(stored["unconfirmed"])
    return stats


def normalize_email(email: str) -> str:
    return email.strip().lower()


class RecipientRule:
    """Who a campaign reaches: visitors with an email, matching its audience, not unsubscribed from the workspace.

    ``send`` and ``previewRecipients`` both ask this, so the preview shows the set a send resolves.
    """

    def __init__(self, ctx: Any, campaign: Doc, rules: dict | None, found: bool, now: float) -> None:
        self.ctx, self.campaign, self.rules, self.found, self.now = ctx, campaign, rules, found, now

    @classmethod
    async def of(cls, ctx: Any, campaign: Doc) -> "RecipientRule":
        found, rules = await resolve_targeting(ctx, campaign.get("audienceRules") or campaign.get("targeting"))
        return cls(ctx, campaign, rules, found, now_ms())

    async def accepts(self, visitor: Doc) -> bool:
        email = visitor.get("email")
        if not email or not self.found:
            return False
        if self.rules and not await Evaluation(self.ctx, visitor, self.now).rule(self.rules):
            return False
        return not await unsubscribed(self.ctx, self.campaign["workspaceId"], email)


async def unsubscribed(ctx: Any, workspace_id: str, email: str) -> bool:
    """Whether ``email`` asked the workspace for no more campaign email."""
    rows = ctx.db.query("emailUnsubscribes").with_index(
        "by_workspace_email", lambda q: q.eq("workspaceId", workspace_id).eq("email", normalize_email(email))
    )
    return await rows.first() is not None


async def resolve_page(ctx: Any, campaign_id: str, run: float) -> None:
    """One step: examine the next page of visitors, add (and with the outbox, deliver to) the recipients,
    stopping early once the step's time budget is spent (the cursor records the last visitor examined)."""
    budget = StepBudget()
    campaign = await live(ctx, campaign_id, run)
    if campaign is None or campaign.get("sendPhase") != "resolving":
        return
    rule = await RecipientRule.of(ctx, campaign)
    smtp = smtp_settings(ctx.env)
    template = await ctx.db.get(campaign["templateId"]) if campaign.get("templateId") else None
    site_url = ctx.env.get("CONVEX_SITE_URL", "")
    sender = ctx.env.get("OPENCOM_CAMPAIGN_FROM") or DEFAULT_SENDER
    page = await visitors_after(ctx, campaign["workspaceId"], campaign.get("sendCursor")).take(RESOLVE_PAGE)
    stats, now, added, examined = stats_of(campaign), now_ms(), 0, 0
    for visitor in page:
        if examined and budget.spent():
            break
        examined += 1
        if not await rule.accepts(visitor):
            continue
        added += 1
        fields = {
            "campaignId": campaign["_id"],
            "visitorId": visitor["_id"],
            "email": visitor["email"],
            "trackingToken": new_tracking_token(),
            "status": "pending" if smtp else "sent",
            "sentAt": UNDEFINED if smtp else now,
            "createdAt": now,
        }
        recipient_id = await ctx.db.insert("emailCampaignRecipients", fields)
        if smtp is None:
            recipient = {**fields, "_id": recipient_id}
            await send_email(ctx, render(campaign, template, visitor, recipient, site_url, sender))
    stats["pending" if smtp else "sent"] += added
    changes: dict[str, Any] = {
        "recipientCount": float(campaign.get("recipientCount", 0) + added),
        "stats": stats,
        "lastStepAt": now,
        "updatedAt": now,
    }
    if examined:
        changes["sendCursor"] = page[examined - 1]["_creationTime"]
    if len(page) < RESOLVE_PAGE and examined == len(page):
        if smtp is None:
            changes |= {"sendPhase": "done", "status": "sent", "sentAt": now}
        else:
            changes["sendPhase"] = "delivering"
    await ctx.db.patch(campaign["_id"], changes)
    if changes.get("status") != "sent":
        await next_step(ctx, EMAIL, campaign | changes, {"campaignId": campaign["_id"], "run": run})


async def finish(ctx: Any, campaign: Doc) -> None:
    """No recipient left to hand over: the campaign is sent; claims never confirmed count as unconfirmed."""
    stats, now = stats_of(campaign), now_ms()
    stats["unconfirmed"] = stats.get("unconfirmed", 0) + stats["pending"]
    stats["pending"] = 0.0
    await ctx.db.patch(campaign["_id"], {"status": "sent", "sendPhase": "done", "sentAt": now, "stats": stats, "updatedAt": now})


async def claim_smtp_batch(ctx: Any, campaign_id: str, run: float) -> list[dict[str, Any]] | None:
    """Mark the next batch "sending" and return its rendered emails; None when stale, paused or finished."""
    campaign = await live(ctx, campaign_id, run)
    if campaign is None or campaign.get("sendPhase") != "delivering":
        return None
    pending = ctx.db.query("emailCampaignRecipients").with_index(
        "by_campaign_status", lambda q: q.eq("campaignId", campaign_id).eq("status", "pending")
    )
    batch = await pending.take(SMTP_BATCH)
    if not batch:
        await finish(ctx, campaign)
        return None
    template = await ctx.db.get(campaign["templateId"]) if campaign.get("templateId") else None
    site_url = ctx.env.get("CONVEX_SITE_URL", "")
    sender = ctx.env.get("OPENCOM_CAMPAIGN_FROM") or DEFAULT_SENDER
    emails = []
    for recipient in batch:
        await ctx.db.patch(recipient["_id"], {"status": "sending", "attempts": float(recipient.get("attempts", 0) + 1)})
        visitor = await ctx.db.get(recipient["visitorId"]) or {"_id": recipient["visitorId"], "email": recipient["email"]}
        email = render(campaign, template, visitor, recipient, site_url, sender)
        emails.append({"recipientId": recipient["_id"], "from": email.sender, "to": recipient["email"],
                       "subject": email.subject, "text": email.text, "html": email.html, "messageId": email.message_id})  # fmt: skip
    await ctx.db.patch(campaign_id, {"lastStepAt": now_ms()})
    return emails


async def confirm_smtp_batch(ctx: Any, campaign_id: str, run: float, results: list[dict[str, Any]]) -> None:
    """Record what the SMTP server said about each claimed recipient, then schedule the next batch."""
    await record_answers(ctx, EMAIL, campaign_id, run, results, stats_of, _record_refusal)


async def _record_refusal(ctx: Any, recipient: Doc, result: dict[str, Any], stats: dict[str, float]) -> bool:
    """A refused recipient goes back to "pending" for another attempt, or is bounced after ``MAX_ATTEMPTS``."""
    if recipient.get("attempts", 1) < MAX_ATTEMPTS:
        await ctx.db.patch(recipient["_id"], {"status": "pending", "error": result.get("error", "")[:500]})
        return True
    await ctx.db.patch(recipient["_id"], {"status": "bounced", "error": result.get("error", "")[:500]})
    stats["pending"], stats["bounced"] = max(0.0, stats["pending"] - 1), stats["bounced"] + 1
    return False
