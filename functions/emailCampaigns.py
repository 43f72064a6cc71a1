"""Email campaigns: drafts aimed at a segment or inline rules, sent to every matching visitor with an email.

Agent functions need ``settings.workspace``. ``send`` resolves recipients at send time in scheduled
batches and hands each email to the provider exactly once (``lib/campaign_send``); opens, clicks
and unsubscribes arrive through the site's tracking endpoints (``http``) or the public token-based
mutations (``lib/campaign_tracking``). Opencom's ``send`` inserts recipients and stops; here the
emails really go out (to the outbox unless SMTP is configured), and a campaign can be sent once.
"""

import asyncio
import math

from runtime import UNDEFINED, internal_action, internal_mutation, internal_query, mutation, query, v

from .lib.audience import validate_targeting
from .lib.authoring import list_by_status, managed, readable
from .lib.campaign_send import EMAIL, RESOLVE_PAGE, RecipientRule, claim_smtp_batch, confirm_smtp_batch, resolve_page, stats_of
from .lib.campaign_email import TRACKING_TOKEN
from .lib.campaign_tracking import click_target, recipient_by_token, record_open, unsubscribe
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail
from .lib.permissions import require_permission
from .lib.send_chain import draft_campaign, purge_recipients, remove_campaign, restart_stalled, start
from .lib.smtp_provider import send_batch, smtp_settings
from .lib.visitor_census import visitor_total, visitors_after

MANAGE = "settings.workspace"
LIST_LIMIT, MAX_LIST_LIMIT = 50, 200
PREVIEW_SCAN = 1_000  # visitors a preview examines (each costs reads; a transaction may make 4096)
PREVIEW_SAMPLE = 10
DELETE_BATCH = 500
BLOCKED_ENV = "OPENCOM_DEMO_BLOCKED_EMAIL_CAMPAIGN_WORKSPACE_IDS"
EDITABLE = ("name", "subject", "previewText", "content", "templateId", "senderId", "schedule")
status = v.union(*(v.literal(name) for name in ("draft", "scheduled", "sending", "sent", "paused")))
schedule = v.object(
    {
        "type": v.union(v.literal("immediate"), v.literal("scheduled")),
        "scheduledAt": v.optional(v.number()),
        "timezone": v.optional(v.string()),
    }
)
SHAPE = {
    "previewText": v.optional(v.string()),
    "templateId": v.optional(v.id("emailTemplates")),
    "senderId": v.optional(v.id("users")),
    "targeting": v.optional(v.any()),
    "schedule": v.optional(schedule),
}


async def _fields(ctx, workspace_id: str, args: dict) -> dict:
    fields = {field: args[field] for field in EDITABLE if field in args}
    if "templateId" in fields:
        template = await ctx.db.get(fields["templateId"])
        if template is None or template["workspaceId"] != workspace_id:
            fail(INVALID_INPUT, "Template not found in this workspace")
    if "targeting" in args:
        fields["targeting"] = await validate_targeting(ctx, workspace_id, args["targeting"], "targeting rules")
        fields["audienceRules"] = UNDEFINED  # the written targeting is the one that counts
    return fields


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "subject": v.string(), "content": v.string(), **SHAPE})
async def create(ctx, args):
    """A draft campaign; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = await _fields(ctx, args["workspaceId"], args)
    row = {"workspaceId": args["workspaceId"], **fields, "status": "draft", "createdAt": now, "updatedAt": now}
    return await ctx.db.insert("emailCampaigns", {k: val for k, val in row.items() if val is not UNDEFINED})


@mutation(
    args={
        "id": v.id("emailCampaigns"),
        "name": v.optional(v.string()),
        "subject": v.optional(v.string()),
        "content": v.optional(v.string()),
        **SHAPE,
    }
)
async def update(ctx, args):
    """Overwrite the given fields of a campaign not yet sending; returns its id."""
    campaign = await draft_campaign(ctx, args["id"], MANAGE)
    await ctx.db.patch(campaign["_id"], {**await _fields(ctx, campaign["workspaceId"], args), "updatedAt": now_ms()})
    return campaign["_id"]


@mutation(args={"id": v.id("emailCampaigns")})
async def send(ctx, args):
    """Start sending a draft (now, or at its scheduled time); ``{status, recipientCount}`` (an estimate)."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    if campaign["status"] == "sent":
        fail(INVALID_INPUT, "Campaign already sent")
    if campaign["status"] != "draft":
        fail(INVALID_INPUT, "Campaign is already being sent; pause or resume it instead")
    blocked = {part.strip() for part in (ctx.env.get(BLOCKED_ENV) or "").split(",")}
    if campaign["workspaceId"] in blocked:
        fail(
            "EMAIL_CAMPAIGN_SEND_BLOCKED_BY_POLICY",
            f"outbound email campaign sending is disabled for workspace {campaign['workspaceId']} in this deployment policy.",
        )
    preview = await _preview(ctx, campaign)
    return {"status": await start(ctx, EMAIL, campaign, resume=False), "recipientCount": preview["recipientCount"]}


@mutation(args={"id": v.id("emailCampaigns")})
async def pause(ctx, args):
    """Stop a scheduled or sending campaign after the batch in progress."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    if campaign["status"] == "sent":
        fail(INVALID_INPUT, "Cannot pause sent campaign")
    if campaign["status"] not in ("scheduled", "sending"):
        fail(INVALID_INPUT, "Campaign is not being sent")
    await ctx.db.patch(campaign["_id"], {"status": "paused", "updatedAt": now_ms()})
    return None


@mutation(args={"id": v.id("emailCampaigns")})
async def resume(ctx, args):
    """Continue a paused campaign where it stopped."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    if campaign["status"] != "paused":
        fail(INVALID_INPUT, "Campaign is not paused")
    await start(ctx, EMAIL, campaign, resume=True)
    return None


@mutation(args={"id": v.id("emailCampaigns")})
async def remove(ctx, args):
    """Delete the campaign (a send in progress stops) and, in scheduled batches, its recipients."""
    await remove_campaign(ctx, EMAIL, args["id"], MANAGE)
    return None


@internal_mutation(args={"campaignId": v.id("emailCampaigns")})
async def purgeRecipients(ctx, args):
    """Delete one batch of a removed campaign's recipients, and schedule the next."""
    await purge_recipients(ctx, EMAIL, args["campaignId"], DELETE_BATCH)


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(status), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's campaigns, newest first (of one status when given)."""
    return await list_by_status(ctx, "emailCampaigns", args, MANAGE, LIST_LIMIT, MAX_LIST_LIMIT)


@query(args={"id": v.id("emailCampaigns")})
async def get(ctx, args):
    """The campaign, or null when missing or not the caller's."""
    return await readable(ctx, args["id"], MANAGE)


@query(args={"id": v.id("emailCampaigns")})
async def getStats(ctx, args):
    """Counters, total and rates (percentages; 0 when the denominator is 0), live while sending."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    stats = stats_of(campaign)
    total = campaign.get("recipientCount", sum(stats[name] for name in stats if name != "unconfirmed"))

    def rate(part: float, whole: float) -> float:
        return part / whole * 100 if whole > 0 else 0.0

    rates = {
        "openRate": rate(stats["opened"], stats["sent"]),
        "clickRate": rate(stats["clicked"], stats["opened"]),
        "bounceRate": rate(stats["bounced"], stats["sent"]),
    }
    return {"total": total, **stats, **rates}


@query(args={"campaignId": v.id("emailCampaigns")})
async def previewRecipients(ctx, args):
    """``{recipientCount, scanned, estimated, sample}``: who ``send`` would reach now, by the same rule
    (exact up to ``PREVIEW_SCAN`` visitors, extrapolated from the oldest ones beyond)."""
    campaign, _ = await managed(ctx, args["campaignId"], "Campaign", MANAGE)
    return await _preview(ctx, campaign)


async def _preview(ctx, campaign: dict) -> dict:
    rule = await RecipientRule.of(ctx, campaign)
    visitors = await visitors_after(ctx, campaign["workspaceId"], None).take(PREVIEW_SCAN + 1)
    scanned, matched, sample = visitors[:PREVIEW_SCAN], 0, []
    for visitor in scanned:
        if await rule.accepts(visitor):
            matched += 1
            if len(sample) < PREVIEW_SAMPLE:
                sample.append({"visitorId": visitor["_id"], "email": visitor["email"], "name": visitor.get("name")})
    if len(visitors) <= PREVIEW_SCAN:
        return {"recipientCount": float(matched), "scanned": float(len(scanned)), "estimated": False, "sample": sample}
    total, _ = await visitor_total(ctx, campaign["workspaceId"])
    count = math.floor(matched * max(total, len(scanned)) / len(scanned) + 0.5)
    return {"recipientCount": float(count), "scanned": float(len(scanned)), "estimated": True, "sample": sample}


# --- tracking (public: the recipient's token is the credential) --------------------------------
TRACKING = {
    "token": v.optional(v.string()),
    "trackingToken": v.optional(v.string()),
    "recipientId": v.optional(v.id("emailCampaignRecipients")),
}


async def _recipient(ctx, args: dict):
    token = args.get("token", args.get("trackingToken"))
    if token is None:
        fail(INVALID_INPUT, "Invalid tracking token")
    return await recipient_by_token(ctx, token, args.get("recipientId"))


@mutation(args=TRACKING)
async def trackOpen(ctx, args):
    """Count the recipient's first open (Opencom's ``{token}`` or the reference's ``{recipientId, trackingToken}``)."""
    recipient = await _recipient(ctx, args)
    if recipient is not None:
        await record_open(ctx, recipient)
    return None


@mutation(args={**TRACKING, "url": v.string()})
async def trackClick(ctx, args):
    """Count the recipient's first click on one of the campaign's own links; INVALID_INPUT for any other URL."""
    recipient = await _recipient(ctx, args)
    if recipient is not None and await click_target(ctx, recipient, args["url"]) is None:
        fail(INVALID_INPUT, "URL is not a link of this campaign")
    return None


@mutation(args={"token": v.string()})
async def handleUnsubscribe(ctx, args):
    """Unsubscribe the token's address from the workspace's campaigns."""
    recipient = await recipient_by_token(ctx, args["token"])
    if recipient is not None:
        await unsubscribe(ctx, recipient)
    return None


@internal_mutation(args={"token": v.string(), "kind": v.string(), "url": v.optional(v.string())})
async def track(ctx, args):
    """What the tracking endpoints call: ``{known, url?}`` (``url`` only for a click on a campaign link)."""
    if not TRACKING_TOKEN.match(args["token"]):
        return {"known": False}
    recipient = await recipient_by_token(ctx, args["token"])
    if recipient is None:
        return {"known": False}
    if args["kind"] == "open":
        await record_open(ctx, recipient)
        return {"known": True}
    if args["kind"] == "unsubscribe":
        await unsubscribe(ctx, recipient)
        return {"known": True}
    url = await click_target(ctx, recipient, args.get("url") or "")
    return {"known": True, "url": url} if url else {"known": True}


# --- the send machinery (see lib/campaign_send) -----------------------------------------------
@internal_mutation(args={"campaignId": v.id("emailCampaigns"), "run": v.number()})
async def sendStep(ctx, args):
    """Resolve (and with the outbox, deliver) the next page of visitors."""
    await resolve_page(ctx, args["campaignId"], args["run"])


@internal_mutation(args={"campaignId": v.id("emailCampaigns"), "run": v.number()})
async def claimSmtpBatch(ctx, args):
    """Claim the next recipients for SMTP delivery."""
    return await claim_smtp_batch(ctx, args["campaignId"], args["run"])


@internal_mutation(args={"campaignId": v.id("emailCampaigns"), "run": v.number(), "results": v.array(v.any())})
async def confirmSmtpBatch(ctx, args):
    """Record the SMTP server's answers."""
    await confirm_smtp_batch(ctx, args["campaignId"], args["run"], args["results"])


@internal_action(args={"campaignId": v.id("emailCampaigns"), "run": v.number()})
async def deliverSmtpBatch(ctx, args):
    """Claim a batch, send it over SMTP in a worker thread, confirm what the server accepted."""
    settings = smtp_settings(ctx.env)
    emails = await ctx.run_mutation("emailCampaigns:claimSmtpBatch", args)
    if not emails:
        return
    if settings is None:
        results = [{"recipientId": email["recipientId"], "ok": False, "error": "SMTP is no longer configured"} for email in emails]
    else:
        results = await asyncio.to_thread(send_batch, settings, emails)
    await ctx.run_mutation("emailCampaigns:confirmSmtpBatch", {**args, "results": results})


@internal_mutation(args={})
async def resumeStalledSends(ctx, args):
    """Backstop (cron): restart sends whose chain stopped (e.g. an SMTP action lost in a crash)."""
    return await restart_stalled(ctx, EMAIL, RESOLVE_PAGE)


@internal_query(args={"campaignId": v.id("emailCampaigns")})
async def sendProgress(ctx, args):
    """Operators' view of a send: ``{status, phase, recipientCount, stats}`` (null for a missing campaign)."""
    campaign = await ctx.db.get(args["campaignId"])
    if campaign is None:
        return None
    return {
        "status": campaign["status"],
        "phase": campaign.get("sendPhase"),
        "recipientCount": campaign.get("recipientCount", 0),
        "stats": stats_of(campaign),
    }
