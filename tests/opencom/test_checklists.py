"""checklists: authoring and status, targeted eligibility, per-visitor progress and automatic tasks."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team, Visitor

pytestmark = pytest.mark.asyncio

PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
TASKS = [
    {"id": "profile", "title": "Fill your profile", "completionType": "manual"},
    {"id": "invite", "title": "Invite a teammate", "completionType": "auto_event", "completionEvent": "invited"},
]


async def _checklist(backend: Backend, team: Team, **fields) -> str:
    args = {"workspaceId": team.workspace_id, "name": "Onboarding", "tasks": TASKS, **fields}
    checklist = await backend.call("checklists:create", args, as_=team.admin)
    await backend.call("checklists:update", {"id": checklist, "status": "active"}, as_=team.admin)
    return checklist


def _visitor(visitor: Visitor, **extra) -> dict:
    return {"workspaceId": visitor.workspace_id, "sessionToken": visitor.token, **extra}


async def test_eligibility_follows_status_and_targeting(backend: Backend, team: Team):
    checklist = await _checklist(backend, team, targeting=PRO)
    pro = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    free = await backend.boot(team.workspace_id)
    [entry] = await backend.call("checklists:getEligible", _visitor(pro))
    assert (entry["checklist"]["_id"], entry["progress"]) == (checklist, None)
    assert await backend.call("checklists:getEligible", _visitor(free)) == []
    await backend.call("checklists:update", {"id": checklist, "status": "archived"}, as_=team.admin)
    assert await backend.call("checklists:getEligible", _visitor(pro)) == []
    await backend.refused(
        "checklists:create", {"workspaceId": team.workspace_id, "name": "x", "tasks": [], "targeting": {"type": "nope"}}, as_=team.admin, code="INVALID_INPUT"
    )


async def test_tasks_complete_manually_and_from_events(backend: Backend, team: Team):
    checklist = await _checklist(backend, team)
    visitor = await backend.boot(team.workspace_id)
    ticked = await backend.call("checklists:completeTask", _visitor(visitor, checklistId=checklist, taskId="profile"))
    assert ticked["completedTaskIds"] == ["profile"] and "completedAt" not in ticked
    await backend.call("events:track", _visitor(visitor, name="invited"))
    job = next(job for job in (await backend.dump())["_scheduled_functions"] if "checkAutoCompletion" in job["name"])
    await backend.internal("checklists:checkAutoCompletion", job["args"][0])
    progress = await backend.call("checklists:getProgress", _visitor(visitor, checklistId=checklist))
    assert progress["completedTaskIds"] == ["profile", "invite"] and "completedAt" in progress
    undone = await backend.call("checklists:uncompleteTask", _visitor(visitor, checklistId=checklist, taskId="profile"))
    assert undone["completedTaskIds"] == ["invite"] and "completedAt" not in undone
    await backend.refused("checklists:completeTask", _visitor(visitor, checklistId=checklist, taskId="nope"), code="NOT_FOUND")
    assert [row["_id"] for row in await backend.call("checklists:getAllProgress", _visitor(visitor))] == [progress["_id"]]


async def test_remove_deletes_progress_and_strangers_cannot_tick(backend: Backend, team: Team):
    checklist = await _checklist(backend, team)
    victim = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    await backend.call("checklists:completeTask", _visitor(victim, checklistId=checklist, taskId="profile"))
    await backend.refused(
        "checklists:uncompleteTask", _visitor(other, checklistId=checklist, taskId="profile", visitorId=victim.visitor_id), code="NOT_AUTHORIZED"
    )
    viewer = await backend.add_member(team, "viewer")
    await backend.refused("checklists:remove", {"id": checklist}, as_=viewer, code="PERMISSION_DENIED")
    await backend.call("checklists:remove", {"id": checklist}, as_=team.admin)
    assert (await backend.dump())["checklistProgress"] == []
