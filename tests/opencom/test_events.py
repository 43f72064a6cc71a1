"""events: custom and automatic events stored per visitor, counted by audience rules, rate-limited."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team

pytestmark = pytest.mark.asyncio


async def test_track_stores_a_manual_event_and_schedules_follow_up_work(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    event_id = await backend.call("events:track", {**args, "name": "signup", "properties": {"plan": "pro"}})
    event = await backend.get(event_id)
    assert (event["visitorId"], event["name"], event["eventType"]) == (visitor.visitor_id, "signup", "manual")
    jobs = [job for job in (await backend.dump())["_scheduled_functions"] if "checkAutoCompletion" in job["name"]]
    assert len(jobs) == 1 and jobs[0]["args"][0]["eventName"] == "signup"
    rule = {"type": "condition", "property": {"source": "event", "key": "x", "eventFilter": {"name": "signup"}}, "operator": "is_set"}
    counted = await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": rule}, as_=team.admin)
    assert counted == {"total": 1.0, "matching": 1.0}


async def test_events_need_the_visitors_own_session(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    await backend.refused("events:track", {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id, "name": "x"}, code="NOT_AUTHENTICATED")
    await backend.refused(
        "events:track",
        {"workspaceId": team.workspace_id, "sessionToken": other.token, "visitorId": visitor.visitor_id, "name": "x"},
        code="NOT_AUTHORIZED",
    )
    assert (await backend.dump())["events"] == []


async def test_auto_events_are_named_after_their_type_and_rate_limited(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "eventType": "page_view", "url": "https://x.test/"}
    first = await backend.call("events:trackAutoEvent", args)
    assert (await backend.get(first))["name"] == "page_view"
    for _ in range(99):
        assert await backend.call("events:trackAutoEvent", args) is not None
    assert await backend.call("events:trackAutoEvent", args) is None
    assert len((await backend.dump())["events"]) == 100


async def test_a_tracked_event_completes_matching_checklist_tasks_in_a_scheduled_job(backend: Backend, team: Team):
    tasks = [
        {"id": "t1", "title": "Sign up", "completionType": "auto_event", "completionEvent": "signup"},
        {"id": "t2", "title": "Go pro", "completionType": "auto_attribute", "completionAttribute": {"key": "plan", "operator": "equals", "value": "pro"}},
    ]
    checklist = await backend.insert(
        "checklists",
        {"workspaceId": team.workspace_id, "name": "Onboarding", "tasks": tasks, "status": "active", "createdAt": 1.0, "updatedAt": 1.0},
    )
    visitor = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    await backend.call("events:track", {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "name": "signup"})
    assert (await backend.dump())["checklistProgress"] == []  # not inline in the visitor's mutation
    job = next(job for job in (await backend.dump())["_scheduled_functions"] if "checkAutoCompletion" in job["name"])
    await backend.internal("checklists:checkAutoCompletion", job["args"][0])
    [progress] = (await backend.dump())["checklistProgress"]
    assert (progress["checklistId"], progress["completedTaskIds"]) == (checklist, ["t1", "t2"])
    assert "completedAt" in progress


async def test_reading_events_back(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    session = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    for name in ("signup", "purchase", "purchase"):
        await backend.call("events:track", {**session, "name": name})
    old = await backend.call("events:trackAutoEvent", {**session, "eventType": "page_view"})
    await backend.patch(old, {"timestamp": 1.0})
    mine = {"visitorId": visitor.visitor_id, **session}
    assert [event["name"] for event in await backend.call("events:list", mine)] == ["page_view", "purchase", "purchase", "signup"]
    assert await backend.call("events:count", {**mine, "name": "purchase"}) == 2.0
    assert await backend.call("events:count", {**mine, "name": "page_view", "withinDays": 1.0}) == 0.0
    assert await backend.call("events:list", {"visitorId": visitor.visitor_id, "sessionToken": other.token}) == []
    assert await backend.call("events:count", {"visitorId": visitor.visitor_id, "name": "purchase"}) == 0.0
    names = await backend.call("events:getDistinctNames", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert names == ["page_view", "purchase", "signup"]
    cleaned = await backend.call("events:cleanupOldAutoEvents", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert cleaned == {"deleted": 1.0, "hasMore": False}
    assert len((await backend.dump())["events"]) == 3
    agent = await backend.add_member(team, "agent")
    await backend.refused("events:cleanupOldAutoEvents", {"workspaceId": team.workspace_id}, as_=agent, code="PERMISSION_DENIED")
