"""surveys: lifecycle, targeted delivery, answers checked against questions, analytics and the audited export."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team, Visitor

pytestmark = pytest.mark.asyncio

PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
QUESTIONS = [
    {"id": "nps", "type": "nps", "title": "Recommend us?", "required": True, "storeAsAttribute": "nps"},
    {"id": "why", "type": "long_text", "title": "Why?", "required": False},
    {"id": "pick", "type": "multiple_choice", "title": "Pick", "required": False, "options": {"choices": ["a", "b"], "allowMultiple": True}},
]


async def _survey(backend: Backend, team: Team, **fields) -> str:
    args = {"workspaceId": team.workspace_id, "name": "NPS", "format": "small", "questions": QUESTIONS, **fields}
    return await backend.call("surveys:create", args, as_=team.admin)


def _answer(visitor: Visitor, survey: str, answers: list, complete: bool = True) -> dict:
    return {"surveyId": survey, "sessionToken": visitor.token, "answers": answers, "isComplete": complete}


async def _active(backend: Backend, visitor: Visitor) -> list[str]:
    args = {"workspaceId": visitor.workspace_id, "sessionToken": visitor.token}
    return [row["_id"] for row in await backend.call("surveys:getActiveSurveys", args)]


async def test_lifecycle_and_duplicate(backend: Backend, team: Team):
    empty = await backend.call("surveys:create", {"workspaceId": team.workspace_id, "name": "E", "format": "large"}, as_=team.admin)
    error = await backend.refused("surveys:activate", {"id": empty}, as_=team.admin, code="INVALID_INPUT")
    assert error["message"] == "Survey must have at least one question"
    survey = await _survey(backend, team, scheduling={"startDate": 1.0})
    for action, status in (("activate", "active"), ("pause", "paused"), ("archive", "archived")):
        await backend.call(f"surveys:{action}", {"id": survey}, as_=team.admin)
        assert (await backend.get(survey))["status"] == status
    copy = await backend.get(await backend.call("surveys:duplicate", {"id": survey}, as_=team.admin))
    assert (copy["name"], copy["status"], "scheduling" in copy) == ("NPS (Copy)", "draft", False)


async def test_only_targeted_visitors_get_active_in_schedule_surveys(backend: Backend, team: Team):
    survey = await _survey(backend, team, audienceRules=PRO)
    later = await _survey(backend, team, name="Later", scheduling={"startDate": 4e12})
    pro = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    free = await backend.boot(team.workspace_id)
    assert await _active(backend, pro) == []
    for item in (survey, later):
        await backend.call("surveys:activate", {"id": item}, as_=team.admin)
    assert await _active(backend, pro) == [survey]
    assert await _active(backend, free) == []
    await backend.call("surveys:recordImpression", {"surveyId": survey, "sessionToken": pro.token, "action": "shown"})
    assert await _active(backend, pro) == []  # frequency "once"


async def test_answers_are_checked_and_completion_stores_attributes(backend: Backend, team: Team):
    survey = await _survey(backend, team)
    visitor = await backend.boot(team.workspace_id)
    await backend.refused("surveys:submitResponse", _answer(visitor, survey, [{"questionId": "nps", "value": 9.0}]), code="INVALID_INPUT")
    await backend.call("surveys:activate", {"id": survey}, as_=team.admin)
    for bad in ([{"questionId": "nps", "value": 11.0}], [{"questionId": "zzz", "value": "x"}], [{"questionId": "why", "value": "x"}],
                [{"questionId": "nps", "value": 9.0}, {"questionId": "pick", "value": ["c"]}]):  # fmt: skip
        await backend.refused("surveys:submitResponse", _answer(visitor, survey, bad), code="INVALID_INPUT")
    partial = await backend.call("surveys:submitResponse", _answer(visitor, survey, [{"questionId": "why", "value": "ok"}], complete=False))
    done = await backend.call("surveys:submitResponse", _answer(visitor, survey, [{"questionId": "nps", "value": 9.0}, {"questionId": "pick", "value": ["a", "b"]}]))
    assert done == partial
    assert (await backend.get(done))["status"] == "completed"
    assert (await backend.get(visitor.visitor_id))["customAttributes"]["nps"] == 9.0
    assert await _active(backend, visitor) == []


async def test_analytics_and_audited_csv_export(backend: Backend, team: Team):
    survey = await _survey(backend, team)
    await backend.call("surveys:activate", {"id": survey}, as_=team.admin)
    for score in (10.0, 9.0, 3.0, 7.0):
        visitor = await backend.boot(team.workspace_id)
        for action in ("shown", "started"):
            await backend.call("surveys:recordImpression", {"surveyId": survey, "sessionToken": visitor.token, "action": action})
        await backend.call("surveys:submitResponse", _answer(visitor, survey, [{"questionId": "nps", "value": score}, {"questionId": "why", "value": 'say "hi", ok'}]))
    analytics = await backend.call("surveys:getAnalytics", {"surveyId": survey}, as_=team.admin)
    nps = analytics["questionAnalytics"]["nps"]
    assert (nps["npsScore"], nps["average"], nps["distribution"]["10"]) == (25.0, 7.25, 1.0)
    assert (analytics["responseRate"], analytics["completionRate"], analytics["totalResponses"]) == (100.0, 100.0, 4.0)
    exported = await backend.call("surveys:exportResponsesCsv", {"surveyId": survey}, as_=team.admin)
    lines = exported["csv"].split("\n")
    assert lines[0] == "responseId,visitorId,userId,sessionId,status,startedAt,completedAt,answer:nps,answer:why,answer:pick"
    assert exported["count"] == 4.0 and lines[1].endswith(',10,"say ""hi"", ok",')
    [audit] = [log for log in (await backend.dump())["auditLogs"] if log["action"] == "data.exported"]
    assert audit["metadata"] == {"format": "csv", "responseCount": 4.0}
    agent = await backend.add_member(team, "agent")
    await backend.refused("surveys:exportResponsesCsv", {"surveyId": survey}, as_=agent, code="PERMISSION_DENIED")


async def test_visitors_answer_only_for_themselves(backend: Backend, team: Team):
    survey = await _survey(backend, team)
    await backend.call("surveys:activate", {"id": survey}, as_=team.admin)
    victim = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    args = {**_answer(other, survey, [{"questionId": "nps", "value": 1.0}]), "visitorId": victim.visitor_id}
    await backend.refused("surveys:submitResponse", args, code="NOT_AUTHORIZED")
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    await backend.refused("surveys:recordImpression", {"surveyId": survey, "sessionToken": foreign.token, "action": "shown"}, code="NOT_AUTHORIZED")
    assert (await backend.dump())["surveyResponses"] == []
