"""segments: saved audience rules, their previews, where they are used, and why used ones stay."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team

pytestmark = pytest.mark.asyncio

PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}


async def _segment(backend: Backend, team: Team, name: str = "Pro users", rules: dict = PRO) -> str:
    return await backend.call(
        "segments:create", {"workspaceId": team.workspace_id, "name": name, "audienceRules": rules}, as_=team.admin
    )


async def test_create_list_get_update(backend: Backend, team: Team):
    first = await _segment(backend, team, "First")
    second = await _segment(backend, team, "Second")
    listed = await backend.call("segments:list", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert [row["_id"] for row in listed] == [second, first]  # newest first
    assert listed[1]["createdBy"] == team.admin.user_id
    await backend.call("segments:update", {"id": first, "name": "Renamed"}, as_=team.admin)
    assert (await backend.call("segments:get", {"id": first}, as_=team.admin))["name"] == "Renamed"


async def test_agents_without_settings_permission_see_nothing_and_cannot_write(backend: Backend, team: Team):
    segment = await _segment(backend, team)
    agent = await backend.add_member(team, "agent")
    assert await backend.call("segments:list", {"workspaceId": team.workspace_id}, as_=agent) == []
    assert await backend.call("segments:get", {"id": segment}, as_=agent) is None
    await backend.refused("segments:remove", {"id": segment}, as_=agent, code="PERMISSION_DENIED")
    assert await backend.get(segment) is not None


async def test_preview_counts_matching_visitors(backend: Backend, team: Team):
    pro = await backend.boot(team.workspace_id)
    await backend.call("visitors:identify", {"visitorId": pro.visitor_id, "sessionToken": pro.token, "customAttributes": {"plan": "pro"}})
    await backend.boot(team.workspace_id)
    counted = await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": PRO}, as_=team.admin)
    assert counted == {"total": 2.0, "matching": 1.0}
    assert await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": PRO}) == 0


async def test_bad_rules_are_refused_with_the_bad_part_named(backend: Backend, team: Team):
    bad = {**PRO, "operator": "eq"}
    error = await backend.refused(
        "segments:create", {"workspaceId": team.workspace_id, "name": "x", "audienceRules": bad}, as_=team.admin, code="INVALID_INPUT"
    )
    assert error["message"].startswith("Invalid audience rules: operator")
    assert (await backend.dump())["segments"] == []


async def test_usage_lists_targeting_items_and_a_used_segment_cannot_be_removed(backend: Backend, team: Team):
    segment = await _segment(backend, team)
    unused = await _segment(backend, team, "Unused")
    tour = await backend.call(
        "tours:create", {"workspaceId": team.workspace_id, "name": "Welcome", "audienceRules": {"segmentId": segment}}, as_=team.admin
    )
    usage = await backend.call("segments:getUsage", {"id": segment}, as_=team.admin)
    assert usage == [{"type": "tour", "id": tour, "name": "Welcome"}]
    error = await backend.refused("segments:remove", {"id": segment}, as_=team.admin, code="INVALID_INPUT")
    assert 'tour "Welcome"' in error["message"]
    assert await backend.get(segment) is not None
    assert await backend.call("segments:remove", {"id": unused}, as_=team.admin) == {"success": True}
    await backend.call("tours:update", {"id": tour, "audienceRules": PRO}, as_=team.admin)
    assert await backend.call("segments:remove", {"id": segment}, as_=team.admin) == {"success": True}


async def test_items_cannot_target_another_workspace_segment(backend: Backend, team: Team):
    other = await backend.seed_team()
    foreign = await _segment(backend, other)
    error = await backend.refused(
        "tours:create",
        {"workspaceId": team.workspace_id, "name": "Spy", "audienceRules": {"segmentId": foreign}},
        as_=team.admin,
        code="INVALID_INPUT",
    )
    assert "segment not found" in error["message"]


async def _run_census(backend: Backend, ran: set[str]) -> int:
    """Run the census jobs not in ``ran`` (the job runner is off in tests) until none is left; returns how many ran."""
    before = len(ran)
    for _ in range(50):
        jobs = [
            job
            for job in (await backend.dump())["_scheduled_functions"]
            if "takeVisitorCensus" in job["name"] and job["_id"] not in ran
        ]
        if not jobs:
            return len(ran) - before
        for job in jobs:
            ran.add(job["_id"])
            await backend.internal("segments:takeVisitorCensus", job["args"][0])
    raise AssertionError("the census did not finish")


async def test_counts_read_the_census_and_only_newer_visitors(backend: Backend, team: Team):
    backend.lib("visitor_census").CENSUS_PAGE = 2
    for _ in range(5):
        await backend.boot(team.workspace_id)
    await _segment(backend, team)
    ran: set[str] = set()
    assert await _run_census(backend, ran) == 3  # pages of 2, 2 and 1
    [stats] = (await backend.dump())["audienceStats"]
    assert (stats["visitorCount"], "pendingSince" in stats) == (5.0, False)
    await backend.boot(team.workspace_id)
    await backend.patch(stats["_id"], {"visitorCount": 100.0})  # proves the census, not a scan, gives the total
    counted = await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": PRO}, as_=team.admin)
    assert counted["total"] == 101.0
    await _segment(backend, team, "Again")
    assert await _run_census(backend, ran) == 0  # at most one census a day


async def test_counts_beyond_what_one_function_may_read_are_estimates(backend: Backend, team: Team):
    backend.lib("audience_count").SAMPLE_LIMIT = 3
    for plan in ("free", "free", "free", "pro", "pro", "pro"):
        await backend.boot(team.workspace_id, customAttributes={"plan": plan})
    estimated = await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": PRO}, as_=team.admin)
    assert estimated == {"total": 6.0, "matching": 6.0, "estimated": True}  # the newest three are all "pro"
    first = (await backend.dump())["visitors"][0]
    by_email = {"type": "condition", "property": {"source": "system", "key": "externalUserId"}, "operator": "equals", "value": "x"}
    await backend.patch(first["_id"], {"externalUserId": "x"})
    exact = await backend.call("segments:preview", {"workspaceId": team.workspace_id, "audienceRules": by_email}, as_=team.admin)
    assert exact == {"total": 6.0, "matching": 1.0}


async def test_the_daily_refresh_rearms_only_stale_censuses(backend: Backend, team: Team):
    await _segment(backend, team)
    ran: set[str] = set()
    await _run_census(backend, ran)
    await backend.internal("segments:refreshVisitorCensuses")
    assert await _run_census(backend, ran) == 0  # taken today
    [stats] = (await backend.dump())["audienceStats"]
    await backend.patch(stats["_id"], {"takenAt": 1.0})
    await backend.internal("segments:refreshVisitorCensuses")
    assert await _run_census(backend, ran) == 1
    job = backend.executor.app.crons.jobs["visitor census"]
    assert (job.schedule["type"], job.function) == ("daily", "segments:refreshVisitorCensuses")
