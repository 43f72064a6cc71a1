"""Opens, clicks and unsubscribes reported by a recipient's tracking token.

The token is the credential: ``ect_`` and 48 hex digits, unguessable, one per recipient. Each kind
of event is counted once per recipient (``openedAt`` / ``clickedAt`` / status "unsubscribed"), only
while the campaign is scheduled, sending or sent and within 90 days of the recipient's creation,
and at most ``MAX_EVENTS`` times in all (Opencom's abuse guard). A click is accepted only for a
URL the recipient's copy of the campaign links to.
"""

from typing import Any

from .campaign_email import TRACKING_TOKEN, acceptable_url, campaign_links
from .campaign_send import normalize_email, stats_of
from .clock import DAY_MS, now_ms
from .errors import INVALID_INPUT, fail
from .identity import Doc

MAX_AGE_MS = 90 * DAY_MS
MAX_EVENTS = 12
MIN_INTERVAL_MS = 500
TRACKED_STATUSES = ("scheduled", "sending", "sent")


async def recipient_by_token(ctx: Any, token: str, recipient_id: str | None = None) -> Doc | None:
    """The recipient ``token`` belongs to (and, when named, is ``recipient_id``); INVALID_INPUT for a malformed token."""
    if not TRACKING_TOKEN.match(token):
        fail(INVALID_INPUT, "Invalid tracking token")
    rows = ctx.db.query("emailCampaignRecipients").with_index("by_tracking_token", lambda q: q.eq("trackingToken", token))
    recipient = await rows.first()
    if recipient is None or (recipient_id is not None and recipient["_id"] != recipient_id):
        return None
    return recipient


async def _countable(ctx: Any, recipient: Doc) -> Doc | None:
    """The recipient's campaign when an event may still be counted for this recipient."""
    if now_ms() - recipient["createdAt"] > MAX_AGE_MS or recipient["status"] in ("bounced", "unsubscribed"):
        return None
    if recipient.get("trackingEventCount", 0) >= MAX_EVENTS:
        return None
    if now_ms() - recipient.get("lastTrackingEventAt", -MIN_INTERVAL_MS) < MIN_INTERVAL_MS:
        return None
    campaign = await ctx.db.get(recipient["campaignId"])
    return campaign if campaign is not None and campaign["status"] in TRACKED_STATUSES else None


async def _count(ctx: Any, recipient: Doc, campaign: Doc, counter: str, status: str, fields: dict[str, Any]) -> None:
    stats, now = stats_of(campaign), now_ms()
    if recipient["status"] == "pending":
        stats["pending"] = max(0.0, stats["pending"] - 1)
    stats[counter] += 1
    events = float(recipient.get("trackingEventCount", 0) + 1)
    await ctx.db.patch(recipient["_id"], {**fields, "status": status, "trackingEventCount": events, "lastTrackingEventAt": now})
    await ctx.db.patch(campaign["_id"], {"stats": stats, "updatedAt": now})


async def record_open(ctx: Any, recipient: Doc) -> None:
    """Count the recipient's first open."""
    campaign = None if recipient.get("openedAt") else await _countable(ctx, recipient)
    if campaign is not None:
        status = "clicked" if recipient["status"] == "clicked" else "opened"
        await _count(ctx, recipient, campaign, "opened", status, {"openedAt": now_ms()})


async def click_target(ctx: Any, recipient: Doc, url: str) -> str | None:
    """``url`` when the recipient's copy of the campaign links to it (counting the first click), else None."""
    if not acceptable_url(url):
        return None
    campaign = await ctx.db.get(recipient["campaignId"])
    if campaign is None:
        return None
    template = await ctx.db.get(campaign["templateId"]) if campaign.get("templateId") else None
    visitor = await ctx.db.get(recipient["visitorId"]) or {"email": recipient["email"]}
    if url not in campaign_links(campaign, template, visitor):
        return None
    countable = None if recipient.get("clickedAt") else await _countable(ctx, recipient)
    if countable is not None:
        await _count(ctx, recipient, countable, "clicked", "clicked", {"clickedAt": now_ms()})
    return url


async def unsubscribe(ctx: Any, recipient: Doc) -> None:
    """Stop all campaign email from the workspace to the recipient's address (idempotent)."""
    campaign = await ctx.db.get(recipient["campaignId"])
    if campaign is None or recipient["status"] == "unsubscribed":
        return
    email = normalize_email(recipient["email"])
    listed = ctx.db.query("emailUnsubscribes").with_index(
        "by_workspace_email", lambda q: q.eq("workspaceId", campaign["workspaceId"]).eq("email", email)
    )
    if await listed.first() is None:
        row = {"workspaceId": campaign["workspaceId"], "email": email, "campaignId": campaign["_id"], "createdAt": now_ms()}
        await ctx.db.insert("emailUnsubscribes", row)
    stats, now = stats_of(campaign), now_ms()
    if recipient["status"] == "pending":
        stats["pending"] = max(0.0, stats["pending"] - 1)
    stats["unsubscribed"] += 1
    await ctx.db.patch(recipient["_id"], {"status": "unsubscribed", "lastTrackingEventAt": now})
    await ctx.db.patch(campaign["_id"], {"stats": stats, "updatedAt": now})
