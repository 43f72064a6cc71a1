"""Reports for agents, and customer satisfaction (CSAT) as the widget collects it.

Reports (``conversations.read``) cover a date range in the workspace's time zone and read only that
range from indexes (``lib/report_sources``): conversation volume, first-response and resolution
times, per-agent metrics and workload, CSAT and the AI agent. The conversation reports add up
daily snapshots for the range's whole past days and read rows only for the rest
(``lib/report_snapshots``); the ``report snapshots`` cron job keeps the snapshots fresh through
``refreshReportSnapshots``.

A rating is asked for only when the workspace turned ``askForRatingEnabled`` on, the conversation
is closed, and nobody rated it yet; one rating (1 to 5, with optional feedback) per conversation,
by its visitor or its workspace's agents.
"""

from typing import Any
from zoneinfo import ZoneInfo

from runtime import internal_mutation, mutation, query, v

from .lib import report_snapshots as snapshots
from .lib import report_sources as sources
from .lib import reports
from .lib.clock import now_ms
from .lib.conversation_access import conversation_for_reader
from .lib.conversation_facts import ConversationFacts, facts_of
from .lib.errors import INVALID_INPUT, fail
from .lib.identity import Doc
from .lib.report_math import average, ratio

_ARGS = {
    "conversationId": v.id("conversations"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}


async def _conversation(ctx: Any, args: Doc) -> Doc:
    return await conversation_for_reader(ctx, args["conversationId"], args.get("sessionToken"), args.get("visitorId"))


async def _rating_enabled(ctx: Any, workspace_id: str) -> bool:
    settings = (
        await ctx.db.query("automationSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )
    return bool((settings or {}).get("askForRatingEnabled", False))


async def _already_rated(ctx: Any, conversation: Doc) -> bool:
    if conversation.get("csatCompletedAt") or conversation.get("csatResponseId"):
        return True
    existing = (
        await ctx.db.query("csatResponses")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .first()
    )
    return existing is not None


@query(args=_ARGS)
async def getCsatEligibility(ctx, args):
    """``{eligible, reason, askForRatingEnabled, alreadySubmitted, conversationStatus}``."""
    conversation = await _conversation(ctx, args)
    enabled = await _rating_enabled(ctx, conversation["workspaceId"])
    rated = await _already_rated(ctx, conversation)
    if not enabled:
        reason = "disabled"
    elif conversation["status"] != "closed":
        reason = "conversation_not_closed"
    elif rated:
        reason = "already_submitted"
    else:
        reason = "eligible"
    return {
        "eligible": reason == "eligible",
        "reason": reason,
        "askForRatingEnabled": enabled,
        "alreadySubmitted": rated,
        "conversationStatus": conversation["status"],
    }


@mutation(args={**_ARGS, "rating": v.number(), "feedback": v.optional(v.string())})
async def submitCsatResponse(ctx, args):
    """Record the conversation's rating; returns its id."""
    if not 1 <= args["rating"] <= 5:
        fail(INVALID_INPUT, "Rating must be between 1 and 5")
    conversation = await _conversation(ctx, args)
    if not await _rating_enabled(ctx, conversation["workspaceId"]):
        fail(INVALID_INPUT, "CSAT collection is disabled for this workspace")
    if conversation["status"] != "closed":
        fail(INVALID_INPUT, "CSAT can only be submitted for closed conversations")
    if await _already_rated(ctx, conversation):
        fail(INVALID_INPUT, "CSAT response already submitted for this conversation")
    now = now_ms()
    response = {
        "workspaceId": conversation["workspaceId"],
        "conversationId": conversation["_id"],
        "rating": args["rating"],
        "createdAt": now,
    }
    for source, target in (("visitorId", "visitorId"), ("assignedAgentId", "agentId")):
        if source in conversation:
            response[target] = conversation[source]
    if "feedback" in args:
        response["feedback"] = args["feedback"]
    csat_id = await ctx.db.insert("csatResponses", response)
    await ctx.db.patch(conversation["_id"], {"csatCompletedAt": now, "csatResponseId": csat_id, "updatedAt": now})
    return csat_id


# --- the agents' reports (lib/report_sources, lib/reports) ------------------------------------
_granularity = v.optional(v.union(v.literal("day"), v.literal("week"), v.literal("month")))
_RANGE = {"workspaceId": v.id("workspaces"), "startDate": v.number(), "endDate": v.number()}
_OPTIONAL_RANGE = {
    "workspaceId": v.id("workspaces"),
    "startDate": v.optional(v.number()),
    "endDate": v.optional(v.number()),
}
_SCAN = {"scanLimit": v.optional(v.number())}
REFRESH_FAN_OUT = 200  # workspaces one step of the snapshot cron job schedules


async def _conversation_facts(ctx: Any, args: Doc) -> tuple[ConversationFacts, bool, ZoneInfo]:
    """Checks the caller; ``(facts, truncated, time zone)`` of the range's conversations."""
    tz = await sources.require_report_reader(ctx, args["workspaceId"])
    facts, truncated = await snapshots.conversation_facts(
        ctx, args["workspaceId"], args["startDate"], args["endDate"], tz, sources.SCAN_LIMIT
    )
    return facts, truncated, tz


@query(args={**_RANGE, "granularity": _granularity, **_SCAN})
async def getConversationMetrics(ctx, args):
    """Conversations created in the range: volume per period, by status and by channel."""
    facts, truncated, tz = await _conversation_facts(ctx, args)
    return {**facts.conversation_metrics(args.get("granularity", "day"), tz), "truncated": truncated}


@query(args={**_RANGE, **_SCAN})
async def getResponseTimeMetrics(ctx, args):
    """First-response times of the range's conversations: count, average, median, p90, p95."""
    facts, truncated, _ = await _conversation_facts(ctx, args)
    return {**facts.response_times(), "truncated": truncated}


@query(args={**_RANGE, **_SCAN})
async def getResolutionTimeMetrics(ctx, args):
    """Resolution times of the range's conversations: count, average, median, p90, p95."""
    facts, truncated, _ = await _conversation_facts(ctx, args)
    return {**facts.resolution_times(), "truncated": truncated}


@query(args={**_RANGE, **_SCAN})
async def getAgentMetrics(ctx, args):
    """Per agent, over the range's conversations assigned to them: handled, resolved, mean times."""
    facts, _, _ = await _conversation_facts(ctx, args)
    return facts.agent_metrics(await sources.agent_names(ctx, set(facts.agents)))


@internal_mutation(args={"after": v.optional(v.number())})
async def refreshReportSnapshots(ctx, args):
    """The cron job: schedule a snapshot refresh for each workspace that has conversations.

    Workspaces are taken ``REFRESH_FAN_OUT`` at a time (oldest first); a full batch schedules the next.
    """
    batch = await (
        ctx.db.query("workspaces")
        .with_index("by_creation_time", lambda q: q.gt("_creationTime", args.get("after", -1.0)))
        .take(REFRESH_FAN_OUT)
    )
    for workspace in batch:
        conversations = ctx.db.query("conversations").with_index(
            "by_workspace_created", lambda q, w=workspace: q.eq("workspaceId", w["_id"])
        )
        if await conversations.first() is not None:
            await ctx.scheduler.run_after(0, "reporting:refreshWorkspaceSnapshots", {"workspaceId": workspace["_id"]})
    if len(batch) == REFRESH_FAN_OUT:
        await ctx.scheduler.run_after(0, "reporting:refreshReportSnapshots", {"after": batch[-1]["_creationTime"]})


@internal_mutation(args={"workspaceId": v.id("workspaces")})
async def refreshWorkspaceSnapshots(ctx, args):
    """Recompute the workspace's days that need it, newest first, within one step's budgets; then the next step."""
    tz = await sources.workspace_zone(ctx, args["workspaceId"])
    done, remaining = await snapshots.refresh_step(ctx, args["workspaceId"], tz, now_ms())
    if remaining:
        await ctx.scheduler.run_after(0, "reporting:refreshWorkspaceSnapshots", args)
    return {"refreshed": float(done), "remaining": float(remaining)}


@query(args={"workspaceId": v.id("workspaces"), **_SCAN})
async def getAgentWorkloadDistribution(ctx, args):
    """Open conversations now, per assignee (the newest 20,000 open ones)."""
    await sources.require_report_reader(ctx, args["workspaceId"])
    rows = await (
        ctx.db.query("conversations")
        .with_index("by_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "open"))
        .order("desc")
        .take(sources.SCAN_LIMIT + 1)
    )
    open_rows = rows[: sources.SCAN_LIMIT]
    agents = {row["assignedAgentId"] for row in open_rows if row.get("assignedAgentId")}
    built = reports.workload(open_rows, await sources.agent_names(ctx, agents))
    return {**built, "truncated": len(rows) > sources.SCAN_LIMIT}


async def _csat_report(ctx: Any, args: Doc) -> Doc:
    tz = await sources.require_report_reader(ctx, args["workspaceId"])
    rows, truncated = await sources.csat_in_range(ctx, args)
    return {**reports.csat_metrics(rows, args.get("granularity", "day"), tz), "truncated": truncated}


@query(args={**_RANGE, "granularity": _granularity, **_SCAN})
async def getCsatMetrics(ctx, args):
    """CSAT ratings given in the range: average, distribution, satisfaction rate, trend."""
    return await _csat_report(ctx, args)


@query(args={**_OPTIONAL_RANGE, "granularity": _granularity})
async def getCsatScore(ctx, args):
    """The API reference's name for the CSAT report; without dates it covers every rating."""
    return await _csat_report(ctx, args)


@query(args={**_RANGE, **_SCAN})
async def getCsatByAgent(ctx, args):
    """Average CSAT rating per agent over the range."""
    await sources.require_report_reader(ctx, args["workspaceId"])
    rows, _ = await sources.csat_in_range(ctx, args)
    return reports.csat_by_agent(
        rows, await sources.agent_names(ctx, {row["agentId"] for row in rows if row.get("agentId")})
    )


@query(
    args={
        **_OPTIONAL_RANGE,
        "granularity": _granularity,
        "conversationScanLimit": v.optional(v.number()),
        "responsesPerConversationLimit": v.optional(v.number()),
    }
)
async def getAiAgentMetrics(ctx, args):
    """The AI agent's answers in the range: resolution and hand-off rates, feedback, speed, trend."""
    tz = await sources.require_report_reader(ctx, args["workspaceId"])
    rows, truncated = await sources.ai_answers_in_range(ctx, args)
    return {**reports.ai_metrics(rows, args.get("granularity", "day"), tz), "truncated": truncated}


@query(
    args={
        **_RANGE,
        "conversationScanLimit": v.optional(v.number()),
        "csatScanLimit": v.optional(v.number()),
        "aiResponsesPerConversationLimit": v.optional(v.number()),
    }
)
async def getDashboardSummary(ctx, args):
    """The reports page's headline numbers over the range."""
    facts, conversations_cut, _ = await _conversation_facts(ctx, args)
    ratings, ratings_cut = await sources.csat_in_range(ctx, args)
    answers, answers_cut = await sources.ai_answers_in_range(ctx, args)
    response_ms, resolution_ms = facts.averages()
    return {
        "totalConversations": float(facts.total),
        "openConversations": float(facts.statuses["open"]),
        "closedConversations": float(facts.statuses["closed"]),
        "avgResponseTimeMs": response_ms,
        "avgResolutionTimeMs": resolution_ms,
        "avgCsatRating": average([r["rating"] for r in ratings]),
        "csatResponseCount": float(len(ratings)),
        "aiResponseCount": float(len(answers)),
        "aiResolutionRate": ratio(sum(1 for a in answers if not a["handedOff"]), len(answers)),
        "truncated": conversations_cut or ratings_cut or answers_cut,
    }


@query(args={**_RANGE, "conversationScanLimit": v.optional(v.number()), "csatScanLimit": v.optional(v.number())})
async def getAiVsHumanComparison(ctx, args):
    """The range's conversations the AI agent took part in against the others: volume, speed, CSAT."""
    tz = await sources.require_report_reader(ctx, args["workspaceId"])
    if args["endDate"] >= now_ms():  # every rating so far is in the range: the snapshots' ratings count
        facts, conversations_cut = await snapshots.conversation_facts(
            ctx, args["workspaceId"], args["startDate"], args["endDate"], tz, sources.SCAN_LIMIT
        )
    else:
        rows, conversations_cut = await sources.conversations_in_range(ctx, args)
        facts = facts_of(rows, [])
    ratings, ratings_cut = await sources.csat_in_range(ctx, args)
    for rating in ratings:
        facts.add_rating(rating)
    return {**facts.ai_vs_human(), "truncated": conversations_cut or ratings_cut}


@query(
    args={
        **_RANGE,
        "limit": v.optional(v.number()),
        "conversationScanLimit": v.optional(v.number()),
        "responsesPerConversationLimit": v.optional(v.number()),
    }
)
async def getKnowledgeGaps(ctx, args):
    """Questions the AI agent answered poorly in the range, grouped, most frequent first (``limit``, default 20)."""
    await sources.require_report_reader(ctx, args["workspaceId"])
    answers, _ = await sources.ai_answers_in_range(ctx, args)
    return reports.knowledge_gaps(answers, int(max(1, min(args.get("limit", 20), 100))))
