"""Push campaigns: a title and body sent to the devices of targeted visitors (``settings.workspace``).

``send`` starts the chain of ``lib/push_send``: recipients are resolved at send time in scheduled
batches, then delivered through the configured transport (Expo) or recorded as undelivered when
there is none. ``pause`` stops a send before its next batch (Opencom has no resume; here ``send``
on a paused campaign resumes it where it stopped).
"""

from runtime import UNDEFINED, internal_action, internal_mutation, mutation, query, v

from .lib.audience import validate_targeting
from .lib.authoring import clamp_limit, list_by_status, managed, readable
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail
from .lib.permissions import require_permission
from .lib.push_send import PUSH, RESOLVE_PAGE, claim_batch, confirm_batch, resolve_page
from .lib.push_transport import expo_settings, send_expo
from .lib.send_chain import draft_campaign, purge_recipients, remove_campaign, restart_stalled, start

MANAGE = "settings.workspace"
LIST_LIMIT, MAX_LIST_LIMIT = 100, 500
STATS_SAMPLE, MAX_STATS_SAMPLE = 5_000, 20_000
DELETE_BATCH = 500
EDITABLE = ("name", "title", "body", "imageUrl", "data", "deepLink", "schedule")
status = v.union(*(v.literal(name) for name in ("draft", "scheduled", "sending", "sent", "paused")))
schedule = v.object(
    {
        "type": v.union(v.literal("immediate"), v.literal("scheduled")),
        "scheduledAt": v.optional(v.number()),
        "timezone": v.optional(v.string()),
    }
)
SHAPE = {
    "imageUrl": v.optional(v.string()),
    "data": v.optional(v.any()),
    "deepLink": v.optional(v.string()),
    "targeting": v.optional(v.any()),
    "schedule": v.optional(schedule),
}


async def _fields(ctx, workspace_id: str, args: dict) -> dict:
    fields = {field: args[field] for field in EDITABLE if field in args}
    if "data" in fields and not isinstance(fields["data"], dict):
        fail(INVALID_INPUT, "Push data must be an object")
    if "targeting" in args:
        fields["targeting"] = await validate_targeting(ctx, workspace_id, args["targeting"], "targeting rules")
        fields["audienceRules"] = UNDEFINED
    return fields


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "title": v.string(), "body": v.string(), **SHAPE})
async def create(ctx, args):
    """A draft campaign; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = {k: val for k, val in (await _fields(ctx, args["workspaceId"], args)).items() if val is not UNDEFINED}
    return await ctx.db.insert(
        "pushCampaigns", {"workspaceId": args["workspaceId"], **fields, "status": "draft", "createdAt": now, "updatedAt": now}
    )


@mutation(
    args={
        "id": v.id("pushCampaigns"),
        "name": v.optional(v.string()),
        "title": v.optional(v.string()),
        "body": v.optional(v.string()),
        **SHAPE,
    }
)
async def update(ctx, args):
    """Overwrite the given fields of a draft; returns its id."""
    campaign = await draft_campaign(ctx, args["id"], MANAGE)
    await ctx.db.patch(campaign["_id"], {**await _fields(ctx, campaign["workspaceId"], args), "updatedAt": now_ms()})
    return campaign["_id"]


@mutation(args={"id": v.id("pushCampaigns")})
async def send(ctx, args):
    """Start (or resume a paused) send; ``{status}``. Recipients are resolved as it runs (see ``getStats``)."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    if campaign["status"] == "sent":
        fail(INVALID_INPUT, "Campaign already sent")
    if campaign["status"] in ("sending", "scheduled"):
        fail(INVALID_INPUT, "Campaign is already being sent")
    return {"status": await start(ctx, PUSH, campaign, resume=campaign["status"] == "paused")}


@mutation(args={"id": v.id("pushCampaigns")})
async def pause(ctx, args):
    """Stop the send before its next batch."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    if campaign["status"] == "sent":
        fail(INVALID_INPUT, "Cannot pause sent campaign")
    await ctx.db.patch(campaign["_id"], {"status": "paused", "updatedAt": now_ms()})
    return None


@mutation(args={"id": v.id("pushCampaigns")})
async def remove(ctx, args):
    """Delete the campaign (a send in progress stops) and, in scheduled batches, its recipients."""
    await remove_campaign(ctx, PUSH, args["id"], MANAGE)
    return None


@internal_mutation(args={"campaignId": v.id("pushCampaigns")})
async def purgeRecipients(ctx, args):
    """Delete one batch of a removed campaign's recipients, and schedule the next."""
    await purge_recipients(ctx, PUSH, args["campaignId"], DELETE_BATCH)


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(status), "limit": v.optional(v.number())})
async def list_(ctx, args):
    """The workspace's push campaigns, newest first (of one status when given)."""
    return await list_by_status(ctx, "pushCampaigns", args, MANAGE, LIST_LIMIT, MAX_LIST_LIMIT)


@query(args={"id": v.id("pushCampaigns")})
async def get(ctx, args):
    """The campaign, or null when missing or not the caller's."""
    return await readable(ctx, args["id"], MANAGE)


@query(args={"id": v.id("pushCampaigns"), "sampleLimit": v.optional(v.number())})
async def getStats(ctx, args):
    """Counts over the newest ``sampleLimit`` recipients, delivery and open rates, ``truncated``."""
    campaign, _ = await managed(ctx, args["id"], "Campaign", MANAGE)
    limit = clamp_limit(args.get("sampleLimit"), STATS_SAMPLE, MAX_STATS_SAMPLE)
    rows = ctx.db.query("pushCampaignRecipients").with_index("by_campaign", lambda q: q.eq("campaignId", campaign["_id"]))
    recipients = await rows.order("desc").take(limit)
    counts = {name: 0.0 for name in ("pending", "sent", "delivered", "opened", "failed")}
    for recipient in recipients:
        counts["pending" if recipient["status"] == "sending" else recipient["status"]] += 1
    return {
        "total": float(len(recipients)),
        **counts,
        "deliveryRate": counts["delivered"] / counts["sent"] * 100 if counts["sent"] else 0.0,
        "openRate": counts["opened"] / counts["delivered"] * 100 if counts["delivered"] else 0.0,
        "truncated": len(recipients) >= limit,
    }


# --- the send machinery (see lib/push_send) -----------------------------------------------------
@internal_mutation(args={"campaignId": v.id("pushCampaigns"), "run": v.number()})
async def sendStep(ctx, args):
    """Resolve the next page of visitors into recipients."""
    await resolve_page(ctx, args["campaignId"], args["run"])


@internal_mutation(args={"campaignId": v.id("pushCampaigns"), "run": v.number()})
async def claimBatch(ctx, args):
    """Claim the next recipients for the transport."""
    return await claim_batch(ctx, args["campaignId"], args["run"])


@internal_mutation(args={"campaignId": v.id("pushCampaigns"), "run": v.number(), "results": v.array(v.any())})
async def confirmBatch(ctx, args):
    """Record the transport's answers."""
    await confirm_batch(ctx, args["campaignId"], args["run"], args["results"])


@internal_action(args={"campaignId": v.id("pushCampaigns"), "run": v.number()})
async def deliverBatch(ctx, args):
    """Claim a batch, post it to Expo, record each ticket."""
    claimed = await ctx.run_mutation("pushCampaigns:claimBatch", args)
    if not claimed or not claimed["messages"]:
        if claimed is not None:
            await ctx.run_mutation("pushCampaigns:confirmBatch", {**args, "results": []})
        return
    settings = expo_settings(ctx.env)
    messages = claimed["messages"]
    if settings is None:
        outcomes = [{"ok": False, "error": "no transport configured"} for _ in messages]
    else:
        outcomes = await send_expo(settings, [{key: m[key] for key in ("to", "title", "body", "data")} for m in messages])
    results = [{"recipientId": m["recipientId"], **outcome} for m, outcome in zip(messages, outcomes, strict=True)]
    await ctx.run_mutation("pushCampaigns:confirmBatch", {**args, "results": results})


@internal_mutation(args={})
async def resumeStalledSends(ctx, args):
    """Backstop (cron): restart sends whose chain stopped (e.g. an action lost in a crash)."""
    return await restart_stalled(ctx, PUSH, RESOLVE_PAGE)
