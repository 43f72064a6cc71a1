"""Daily report snapshots: the cron job builds them, reports add them up, and a change made since
is read from rows again, so answers stay exact."""

from __future__ import annotations

from opencom_backend import Backend, Team

DAY = 86_400_000.0


async def _conversations(backend: Backend, team: Team, now: float, days: int, per_day: int) -> list[str]:
    ids = []
    for day in range(1, days + 1):
        for n in range(per_day):
            created = now - day * DAY + n * 60_000.0
            doc = {"workspaceId": team.workspace_id, "status": "open", "createdAt": created, "updatedAt": created,
                   "firstResponseAt": created + 1000.0 * (n + 1)}  # fmt: skip
            ids.append(await backend.insert("conversations", doc))
    return ids


async def test_the_cron_job_snapshots_past_days_and_reports_use_them(backend: Backend, team: Team):
    now = backend.t.now_ms()
    ids = await _conversations(backend, team, now, days=6, per_day=3)
    args = {"workspaceId": team.workspace_id, "startDate": now - 10 * DAY, "endDate": now}
    before = await backend.call("reporting:getConversationMetrics", args, as_=team.admin)
    await backend.seed_team()  # a workspace without conversations: nothing to snapshot
    await backend.internal("reporting:refreshReportSnapshots", {})
    jobs = [
        job
        for job in (await backend.dump())["_scheduled_functions"]
        if job["name"] == "reporting.js:refreshWorkspaceSnapshots"
    ]
    assert [job["args"][0]["workspaceId"] for job in jobs] == [team.workspace_id]
    step = await backend.internal("reporting:refreshWorkspaceSnapshots", {"workspaceId": team.workspace_id})
    assert step["refreshed"] == 4
    while step["remaining"]:
        step = await backend.internal("reporting:refreshWorkspaceSnapshots", {"workspaceId": team.workspace_id})
    snapshots = (await backend.dump())["reportSnapshots"]
    assert sum(s["total"] for s in snapshots) == 18 and len(snapshots) == 120
    assert await backend.call("reporting:getConversationMetrics", args, as_=team.admin) == before
    # A write that does not bump updatedAt is invisible to the stale check: the snapshot answers.
    await backend.patch(ids[0], {"status": "closed"})
    assert (await backend.call("reporting:getConversationMetrics", args, as_=team.admin))["byStatus"]["closed"] == 0
    # Every real change bumps updatedAt: that day is read from rows again, exactly.
    await backend.patch(ids[0], {"updatedAt": backend.t.now_ms()})
    assert (await backend.call("reporting:getConversationMetrics", args, as_=team.admin))["byStatus"]["closed"] == 1
    # The next refresh recomputes just that day.
    step = await backend.internal("reporting:refreshWorkspaceSnapshots", {"workspaceId": team.workspace_id})
    assert (step["refreshed"], step["remaining"]) == (1, 0)
    assert sum(s["byStatus"]["closed"] for s in (await backend.dump())["reportSnapshots"]) == 1


async def test_snapshots_and_rows_add_up_to_the_same_report(backend: Backend, team: Team):
    now = backend.t.now_ms()
    ids = await _conversations(backend, team, now, days=3, per_day=4)
    agent = await backend.add_member(team, "agent")
    for n, conversation in enumerate(ids):  # some AI-handled, some assigned and resolved, some rated
        created = (await backend.get(conversation))["createdAt"]
        changes = (
            {"aiWorkflowState": "ai_handled"}
            if n % 3 == 0
            else {"assignedAgentId": agent.user_id, "resolvedAt": created + 5000.0 * n}
        )
        await backend.patch(conversation, changes)
        if n % 2 == 0:
            rating = {
                "workspaceId": team.workspace_id,
                "conversationId": conversation,
                "rating": float(1 + n % 5),
                "createdAt": created + 1.0,
            }
            await backend.patch(conversation, {"csatResponseId": await backend.insert("csatResponses", rating)})
    args = {"workspaceId": team.workspace_id, "startDate": now - 2.5 * DAY, "endDate": now}  # half a day at the start
    reports = ("getConversationMetrics", "getResponseTimeMetrics", "getResolutionTimeMetrics", "getAgentMetrics",
               "getDashboardSummary", "getAiVsHumanComparison")  # fmt: skip
    from_rows = {name: await backend.call(f"reporting:{name}", args, as_=team.admin) for name in reports}
    while (await backend.internal("reporting:refreshWorkspaceSnapshots", {"workspaceId": team.workspace_id}))[
        "remaining"
    ]:
        pass
    assert {name: await backend.call(f"reporting:{name}", args, as_=team.admin) for name in reports} == from_rows
    assert 0 < from_rows["getResponseTimeMetrics"]["count"] < 12  # the range starts mid-day


def test_the_refresh_runs_as_a_cron_job(backend: Backend):
    job = backend.executor.app.crons.jobs["report snapshots"]
    assert job.target(backend.executor.app.functions) == "reporting:refreshReportSnapshots"
    assert job.interval_ms == 10 * 60 * 1000
