"""Sending a push campaign: the ``send_chain`` steps, resolving visitor device tokens then delivering.

Recipients are one per enabled ``visitorPushTokens`` row of each matching visitor in the
workspace (agents' ``pushTokens`` are never campaign recipients). With no transport configured,
each recipient is recorded at once as failed with ``NO_TRANSPORT`` and its payload kept as a
suppressed ``notificationDeliveries`` row. With Expo, an action claims a batch ("sending"),
posts it and records each ticket: "sent", or "failed" (a dead token is deleted); a request that
never reached Expo is retried up to ``MAX_ATTEMPTS``; one whose answer was lost stays "sending"
(counted as pending, never resent). Pausing stops the chain before its next batch.
"""

from typing import Any

from runtime import UNDEFINED

from .audience import Evaluation, resolve_targeting
from .clock import now_ms
from .identity import Doc
from .push_transport import NO_TRANSPORT, expo_settings, invalid_token_error
from .send_chain import Chain, live, next_step, record_answers
from .visitor_census import visitors_after

RESOLVE_PAGE = 100
DELIVER_BATCH = 100  # Expo accepts up to 100 messages per request
MAX_ATTEMPTS = 3
STAT_NAMES = ("sent", "delivered", "opened", "failed", "pending")
PUSH = Chain(
    "pushCampaigns",
    "pushCampaigns:sendStep",
    "pushCampaigns:deliverBatch",
    STAT_NAMES,
    "pushCampaignRecipients",
    "pushCampaigns:purgeRecipients",
)


def stats_of(campaign: Doc) -> dict[str, float]:
    stored = campaign.get("stats") or {}
    return {name: float(stored.get(name, 0)) for name in STAT_NAMES}


def payload(campaign: Doc) -> dict[str, Any]:
    """What every device of the campaign receives (Opencom's data: the campaign's, plus its id and links)."""
    data = {**(campaign.get("data") or {}), "campaignId": campaign["_id"]}
    for field in ("deepLink", "imageUrl"):
        if campaign.get(field):
            data[field] = campaign[field]
    return {"title": campaign["title"], "body": campaign["body"], "data": data}


async def enabled_tokens(ctx: Any, visitor: Doc) -> list[Doc]:
    """The visitor's device tokens in its workspace that have not been switched off."""
    tokens = ctx.db.query("visitorPushTokens").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    return [t async for t in tokens if t["workspaceId"] == visitor["workspaceId"] and t.get("notificationsEnabled") is not False]


async def resolve_page(ctx: Any, campaign_id: str, run: float) -> None:
    """One step: the next page of visitors becomes recipients (recorded undelivered without a transport)."""
    campaign = await live(ctx, campaign_id, run)
    if campaign is None or campaign.get("sendPhase") != "resolving":
        return
    found, rules = await resolve_targeting(ctx, campaign.get("audienceRules") or campaign.get("targeting"))
    transport = expo_settings(ctx.env)
    page = await visitors_after(ctx, campaign["workspaceId"], campaign.get("sendCursor")).take(RESOLVE_PAGE)
    stats, now, added = stats_of(campaign), now_ms(), 0
    for visitor in page:
        if not found or (rules and not await Evaluation(ctx, visitor, now).rule(rules)):
            continue
        for token in await enabled_tokens(ctx, visitor):
            added += 1
            recipient = {
                "campaignId": campaign_id, "recipientType": "visitor", "visitorId": visitor["_id"], "tokenId": token["_id"],
                "status": "pending" if transport else "failed", "error": UNDEFINED if transport else NO_TRANSPORT,
                "createdAt": now,
            }  # fmt: skip
            recipient_id = await ctx.db.insert("pushCampaignRecipients", recipient)
            if transport is None:
                await _record_undelivered(ctx, campaign, recipient_id, visitor["_id"], now)
    stats["pending" if transport else "failed"] += added
    changes: dict[str, Any] = {"recipientCount": float(campaign.get("recipientCount", 0) + added), "stats": stats}
    changes |= {"lastStepAt": now, "updatedAt": now}
    if page:
        changes["sendCursor"] = page[-1]["_creationTime"]
    if len(page) < RESOLVE_PAGE:
        changes |= {"sendPhase": "delivering"} if transport else {"sendPhase": "done", "status": "sent", "sentAt": now}
    await ctx.db.patch(campaign_id, changes)
    if changes.get("status") != "sent":
        await next_step(ctx, PUSH, campaign | changes, {"campaignId": campaign_id, "run": run})


async def _record_undelivered(ctx: Any, campaign: Doc, recipient_id: str, visitor_id: str, now: float) -> None:
    event_key = f"push_campaign:{campaign['_id']}"
    await ctx.db.insert(
        "notificationDeliveries",
        {
            "workspaceId": campaign["workspaceId"], "eventKey": event_key,
            "dedupeKey": f"{event_key}:{recipient_id}:push", "channel": "push", "recipientType": "visitor",
            "visitorId": visitor_id, "tokenCount": 1.0, "status": "suppressed", "reason": NO_TRANSPORT,
            "metadata": payload(campaign), "createdAt": now,
        },
    )  # fmt: skip


async def claim_batch(ctx: Any, campaign_id: str, run: float) -> dict[str, Any] | None:
    """Mark the next batch "sending": ``{messages: [{recipientId, to, title, body, data}]}``; None when stopped or done."""
    campaign = await live(ctx, campaign_id, run)
    if campaign is None or campaign.get("sendPhase") != "delivering":
        return None
    pending = ctx.db.query("pushCampaignRecipients").with_index(
        "by_campaign_status", lambda q: q.eq("campaignId", campaign_id).eq("status", "pending")
    )
    batch, now = await pending.take(DELIVER_BATCH), now_ms()
    if not batch:
        await ctx.db.patch(campaign_id, {"status": "sent", "sendPhase": "done", "sentAt": now, "updatedAt": now})
        return None
    messages, stats = [], stats_of(campaign)
    for recipient in batch:
        token = await ctx.db.get(recipient["tokenId"])
        if token is None or token.get("notificationsEnabled") is False:  # removed or switched off since resolved
            await ctx.db.patch(recipient["_id"], {"status": "failed", "error": "Token no longer registered"})
            stats["pending"], stats["failed"] = max(0.0, stats["pending"] - 1), stats["failed"] + 1
            continue
        await ctx.db.patch(recipient["_id"], {"status": "sending", "attempts": float(recipient.get("attempts", 0) + 1)})
        messages.append({"recipientId": recipient["_id"], "to": token["token"], **payload(campaign)})
    await ctx.db.patch(campaign_id, {"stats": stats, "lastStepAt": now})
    return {"messages": messages}


async def confirm_batch(ctx: Any, campaign_id: str, run: float, results: list[dict[str, Any]]) -> None:
    """Record Expo's tickets, prune dead tokens, and schedule the next batch."""
    await record_answers(ctx, PUSH, campaign_id, run, results, stats_of, _record_failure)


async def _record_failure(ctx: Any, recipient: Doc, result: dict[str, Any], stats: dict[str, float]) -> bool:
    """A retryable failure goes back to "pending" (up to ``MAX_ATTEMPTS``); otherwise the recipient
    failed, and a token Expo calls invalid is deleted."""
    error = str(result.get("error", ""))[:500]
    if result.get("retryable") and recipient.get("attempts", 1) < MAX_ATTEMPTS:
        await ctx.db.patch(recipient["_id"], {"status": "pending", "error": error})
        return True
    await ctx.db.patch(recipient["_id"], {"status": "failed", "error": error})
    stats["pending"], stats["failed"] = max(0.0, stats["pending"] - 1), stats["failed"] + 1
    if invalid_token_error(error) and await ctx.db.get(recipient["tokenId"]) is not None:
        await ctx.db.delete(recipient["tokenId"])
    return False
