"""Surveys: NPS, rating, text and choice questions shown to targeted visitors (``settings.workspace``).

Lifecycle: created as drafts; ``activate`` (needs a question), ``pause``, ``archive``. Only active
surveys inside their schedule reach visitors, and only visitors their audience matches (Opencom
leaves audiences to the client; here the server decides, so a survey never reaches a visitor it
does not target). Triggers are returned for the widget to evaluate. Answers are checked against
the questions; completing a response writes ``storeAsAttribute`` answers into the visitor's
custom attributes. Exports are audited.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.audience import Audience, validate_targeting
from .lib.audience_count import preview_targeting
from .lib.audit import record_audit
from .lib.authoring import clamp_limit, copy_name, managed, readable, set_status
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import current_user
from .lib.permissions import agent_with_permission, require_permission
from .lib.sessions import resolve_visitor
from .lib.survey_results import check_answers, js_round, question_analytics, responses_csv
from .lib.survey_shapes import answer, frequency, impression_action, question, step_text, survey_format, survey_status, triggers
from .lib.validators import scheduling
from .lib.visitor_access import viewing_visitor
from .lib.visitor_census import arm_census

MANAGE = "settings.workspace"
RESPONSE_LIMIT = 1000
SETTINGS = {
    "description": v.optional(v.string()),
    "questions": v.optional(v.array(question)),
    "introStep": v.optional(step_text),
    "thankYouStep": v.optional(step_text),
    "showProgressBar": v.optional(v.boolean()),
    "showDismissButton": v.optional(v.boolean()),
    "audienceRules": v.optional(v.any()),
    "triggers": v.optional(triggers),
    "frequency": v.optional(frequency),
    "scheduling": v.optional(scheduling),
}
DEFAULTS = {"questions": [], "showProgressBar": True, "showDismissButton": True, "frequency": "once"}


async def _settings(ctx, workspace_id: str, args: dict) -> dict:
    settings = {field: args[field] for field in ("name", "format", *SETTINGS) if field in args}
    if "audienceRules" in settings:
        settings["audienceRules"] = await validate_targeting(ctx, workspace_id, settings["audienceRules"])
    if "questions" in settings:
        ids = [item["id"] for item in settings["questions"]]
        if len(ids) != len(set(ids)):
            fail(INVALID_INPUT, "Question ids must be unique")
    return settings


def _in_schedule(survey: dict, now: float) -> bool:
    window = survey.get("scheduling") or {}
    return not ("startDate" in window and now < window["startDate"]) and not ("endDate" in window and now > window["endDate"])


async def _rows(ctx, table: str, index: str, field: str, value: str) -> list[dict]:
    return await ctx.db.query(table).with_index(index, lambda q: q.eq(field, value)).collect()


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(survey_status)})
async def list_(ctx, args):
    """The workspace's surveys, oldest first, optionally of one status (``[]`` without the permission)."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    if "status" in args:
        return await ctx.db.query("surveys").with_index(
            "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", args["status"])
        ).collect()
    return await _rows(ctx, "surveys", "by_workspace", "workspaceId", args["workspaceId"])


@query(args={"id": v.id("surveys")})
async def get(ctx, args):
    """The survey, or null when missing or not the caller's to read."""
    return await readable(ctx, args["id"], MANAGE)


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "format": survey_format, **SETTINGS})
async def create(ctx, args):
    """Create a draft survey; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    settings = await _settings(ctx, args["workspaceId"], args)
    await arm_census(ctx, args["workspaceId"])
    fields = {"workspaceId": args["workspaceId"], "status": "draft", **DEFAULTS, **settings}
    return await ctx.db.insert("surveys", {**fields, "createdAt": now, "updatedAt": now})


@mutation(args={"id": v.id("surveys"), "name": v.optional(v.string()), "format": v.optional(survey_format), **SETTINGS})
async def update(ctx, args):
    """Overwrite the given settings (any status); returns the survey id."""
    survey, _ = await managed(ctx, args["id"], "Survey", MANAGE)
    await ctx.db.patch(survey["_id"], {**await _settings(ctx, survey["workspaceId"], args), "updatedAt": now_ms()})
    return survey["_id"]


@mutation(args={"id": v.id("surveys")})
async def remove(ctx, args):
    """Delete the survey with its responses and impressions: ``{success: true}``."""
    survey, _ = await managed(ctx, args["id"], "Survey", MANAGE)
    for table in ("surveyResponses", "surveyImpressions"):
        for row in await _rows(ctx, table, "by_survey", "surveyId", survey["_id"]):
            await ctx.db.delete(row["_id"])
    await ctx.db.delete(survey["_id"])
    return {"success": True}


def _publishable(survey: dict) -> None:
    if not survey["questions"]:
        fail(INVALID_INPUT, "Survey must have at least one question")


async def _set_status(ctx, survey_id: str, status: str) -> str:
    return (await set_status(ctx, survey_id, "Survey", MANAGE, status, _publishable if status == "active" else None))["_id"]


@mutation(args={"id": v.id("surveys")})
async def activate(ctx, args):
    """Publish the survey (it needs at least one question); returns its id."""
    return await _set_status(ctx, args["id"], "active")


@mutation(args={"id": v.id("surveys")})
async def pause(ctx, args):
    """Stop showing the survey; returns its id."""
    return await _set_status(ctx, args["id"], "paused")


@mutation(args={"id": v.id("surveys")})
async def archive(ctx, args):
    """Archive the survey; returns its id."""
    return await _set_status(ctx, args["id"], "archived")


@mutation(args={"id": v.id("surveys")})
async def duplicate(ctx, args):
    """A draft "<name> (Copy)" with the same questions and settings, without the schedule; returns its id."""
    survey, _ = await managed(ctx, args["id"], "Survey", MANAGE)
    now = now_ms()
    copied = {field: survey[field] for field in ("format", *SETTINGS) if field in survey and field != "scheduling"}
    fields = {"workspaceId": survey["workspaceId"], "name": copy_name(survey["name"]), "status": "draft", **copied}
    return await ctx.db.insert("surveys", {**fields, "createdAt": now, "updatedAt": now})


@query(args={"workspaceId": v.id("workspaces"), "audienceRules": v.optional(v.any())})
async def previewAudienceRules(ctx, args):
    """``{total, matching}`` visitors for the rules; zeros without the permission."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return {"total": 0.0, "matching": 0.0}
    return await preview_targeting(ctx, args["workspaceId"], args.get("audienceRules"))


class _History:
    """The surveys a visitor completed and was shown, read once per ``getActiveSurveys`` call."""

    def __init__(self, completed: set[str], shown: set[str]) -> None:
        self.completed = completed
        self.shown = shown

    @classmethod
    async def of(cls, ctx, visitor_id: str) -> "_History":
        responses = ctx.db.query("surveyResponses").with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
        impressions = ctx.db.query("surveyImpressions").with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
        completed = {row["surveyId"] async for row in responses if row["status"] == "completed"}
        return cls(completed, {row["surveyId"] async for row in impressions if row["action"] == "shown"})

    def allows(self, survey: dict) -> bool:
        """Not completed, and not shown already when it is shown once."""
        once = survey.get("frequency", "once") == "once"
        return survey["_id"] not in self.completed and not (once and survey["_id"] in self.shown)


@query(args={"workspaceId": v.id("workspaces"), "visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())})
async def getActiveSurveys(ctx, args):
    """Active, in-schedule surveys for the visitor (a manager without a visitor sees them all)."""
    visitor = await viewing_visitor(ctx, args, MANAGE)
    overview = visitor is None and "visitorId" not in args and await agent_with_permission(ctx, args["workspaceId"], MANAGE)
    if visitor is None and not overview:
        return []
    now = now_ms()
    active = ctx.db.query("surveys").with_index(
        "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "active")
    )
    surveys = [survey async for survey in active if _in_schedule(survey, now)]
    if visitor is None:
        return surveys
    audience, history = Audience(ctx, visitor, now), await _History.of(ctx, visitor["_id"])
    return [survey for survey in surveys if history.allows(survey) and await audience.matches(survey.get("audienceRules"))]


async def _survey_visitor(ctx, survey: dict, args: dict, refusal: str) -> str:
    visitor_id = await resolve_visitor(ctx, args.get("sessionToken"), survey["workspaceId"])
    if args.get("visitorId") not in (None, visitor_id):
        fail(NOT_AUTHORIZED, refusal)
    return visitor_id


async def _survey(ctx, survey_id: str) -> dict:
    survey = await ctx.db.get(survey_id)
    if survey is None:
        not_found("Survey")
    return survey


@mutation(
    args={
        "surveyId": v.id("surveys"),
        "visitorId": v.optional(v.id("visitors")),
        "sessionId": v.optional(v.string()),
        "sessionToken": v.optional(v.string()),
        "action": impression_action,
    }
)
async def recordImpression(ctx, args):
    """Record that the session's visitor was shown, started, completed or dismissed a survey; returns its id."""
    survey = await _survey(ctx, args["surveyId"])
    visitor_id = await _survey_visitor(ctx, survey, args, "Not authorized to record survey impression")
    fields = {"surveyId": survey["_id"], "visitorId": visitor_id, "sessionId": args.get("sessionId", UNDEFINED)}
    return await ctx.db.insert("surveyImpressions", {**fields, "action": args["action"], "createdAt": now_ms()})


async def _store_attributes(ctx, survey: dict, answers: list[dict], visitor_id: str) -> None:
    targets = {item["id"]: item["storeAsAttribute"] for item in survey["questions"] if item.get("storeAsAttribute")}
    stored = {targets[given["questionId"]]: given["value"] for given in answers if given["questionId"] in targets}
    visitor = await ctx.db.get(visitor_id)
    if stored and visitor is not None:
        await ctx.db.patch(visitor_id, {"customAttributes": {**(visitor.get("customAttributes") or {}), **stored}})


async def _responder(ctx, survey: dict, args: dict) -> dict[str, Any]:
    """Who answers: a manager previewing (as ``userId``) or the session's visitor (of an active survey)."""
    user = await current_user(ctx)
    if user is not None:
        agent = await require_permission(ctx, survey["workspaceId"], MANAGE)
        if args.get("userId", agent.id) != agent.id:
            fail(NOT_AUTHORIZED, "Cannot submit survey response on behalf of another user")
        return {"userId": agent.id}
    visitor_id = await _survey_visitor(ctx, survey, args, "Not authorized to submit survey response")
    if "userId" in args:
        fail(NOT_AUTHORIZED, "Cannot submit visitor response with userId")
    if survey["status"] != "active":
        fail(INVALID_INPUT, "Survey is not active")
    return {"visitorId": visitor_id}


@mutation(
    args={
        "surveyId": v.id("surveys"),
        "visitorId": v.optional(v.id("visitors")),
        "userId": v.optional(v.id("users")),
        "sessionId": v.optional(v.string()),
        "sessionToken": v.optional(v.string()),
        "answers": v.array(answer),
        "isComplete": v.boolean(),
    }
)
async def submitResponse(ctx, args):
    """Save (or finish) the caller's response; returns its id."""
    survey = await _survey(ctx, args["surveyId"])
    who = await _responder(ctx, survey, args)
    check_answers(survey, args["answers"], args["isComplete"])
    now = now_ms()
    done = {"status": "completed" if args["isComplete"] else "partial", "completedAt": now if args["isComplete"] else UNDEFINED}
    partial = None
    if "visitorId" in who:
        rows = ctx.db.query("surveyResponses").with_index(
            "by_visitor_survey", lambda q: q.eq("visitorId", who["visitorId"]).eq("surveyId", survey["_id"])
        )
        partial = next(iter([row async for row in rows if row["status"] == "partial"]), None)
    if partial is not None:
        await ctx.db.patch(partial["_id"], {"answers": args["answers"], **done})
        response_id = partial["_id"]
    else:
        fields = {"surveyId": survey["_id"], "workspaceId": survey["workspaceId"], **who, "sessionId": args.get("sessionId", UNDEFINED)}
        response_id = await ctx.db.insert("surveyResponses", {**fields, "answers": args["answers"], **done, "startedAt": now})
    if args["isComplete"] and "visitorId" in who:
        await _store_attributes(ctx, survey, args["answers"], who["visitorId"])
    return response_id


@query(args={"surveyId": v.id("surveys"), "status": v.optional(v.union(v.literal("partial"), v.literal("completed"))), "limit": v.optional(v.number())})
async def listResponses(ctx, args):
    """The survey's responses, oldest first, optionally of one status (``[]`` without the permission)."""
    survey = await readable(ctx, args["surveyId"], MANAGE)
    if survey is None:
        return []
    rows = [row for row in await _rows(ctx, "surveyResponses", "by_survey", "surveyId", survey["_id"]) if args.get("status") in (None, row["status"])]
    return rows[: clamp_limit(args.get("limit"), RESPONSE_LIMIT, RESPONSE_LIMIT)]


@mutation(args={"surveyId": v.id("surveys"), "startDate": v.optional(v.number()), "endDate": v.optional(v.number())})
async def exportResponsesCsv(ctx, args):
    """The responses (completed or started within the dates) as CSV: ``{fileName, count, csv}``; audited."""
    survey, agent = await managed(ctx, args["surveyId"], "Survey", "data.export")
    chosen = [
        row
        for row in await _rows(ctx, "surveyResponses", "by_survey", "surveyId", survey["_id"])
        if args.get("startDate", float("-inf")) <= row.get("completedAt", row["startedAt"]) <= args.get("endDate", float("inf"))
    ]
    window = {field: args[field] for field in ("startDate", "endDate") if field in args}
    await record_audit(
        ctx,
        workspace_id=survey["workspaceId"],
        action="data.exported",
        resource_type="surveys",
        actor_id=agent.id,
        resource_id=survey["_id"],
        metadata={"format": "csv", "responseCount": float(len(chosen)), **window},
    )
    return {"fileName": f"survey-{survey['_id']}-responses.csv", "count": float(len(chosen)), "csv": responses_csv(survey, chosen)}


@query(args={"surveyId": v.id("surveys")})
async def getAnalytics(ctx, args):
    """Impression counts, response and completion rates, and per-question distributions/averages/NPS."""
    survey, _ = await managed(ctx, args["surveyId"], "Survey", MANAGE)
    impressions = await _rows(ctx, "surveyImpressions", "by_survey", "surveyId", survey["_id"])
    completed = [row for row in await _rows(ctx, "surveyResponses", "by_survey", "surveyId", survey["_id"]) if row["status"] == "completed"]
    shown, started, dismissed = (sum(1 for row in impressions if row["action"] == action) for action in ("shown", "started", "dismissed"))
    return {
        "surveyId": survey["_id"],
        "impressions": {"shown": float(shown), "started": float(started), "completed": float(len(completed)), "dismissed": float(dismissed)},
        "responseRate": float(js_round(len(completed) / shown * 100)) if shown else 0.0,
        "completionRate": float(js_round(len(completed) / started * 100)) if started else 0.0,
        "totalResponses": float(len(completed)),
        "questionAnalytics": {item["id"]: question_analytics(item, completed) for item in survey["questions"]},
    }
