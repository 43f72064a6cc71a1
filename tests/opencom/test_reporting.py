"""Reports against a brute-force computation over the same generated data, and who may read them."""

import asyncio
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opencom_backend import Backend, Team, open_backend

DAY = 86_400_000.0
BASE = 1_767_225_600_000.0  # 2026-01-01T00:00:00Z
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")

conversations = st.lists(
    st.fixed_dictionaries(
        {
            "createdAt": st.floats(0, 40 * DAY).map(lambda offset: BASE + float(int(offset))),
            "status": st.sampled_from(("open", "closed", "snoozed")),
            "channel": st.sampled_from((None, "chat", "email")),
            "agent": st.sampled_from((None, 0, 1, 2)),
            "response": st.one_of(st.none(), st.integers(-5, 10**7).map(float)),
            "resolution": st.one_of(st.none(), st.integers(0, 10**8).map(float)),
            "rating": st.one_of(st.none(), st.integers(1, 5).map(float)),
        }
    ),
    max_size=40,
)
ranges = st.tuples(st.integers(-2, 42), st.integers(0, 42)).map(lambda r: (BASE + r[0] * DAY, BASE + (r[0] + r[1]) * DAY))


def _key(ms: float, granularity: str, tz: str) -> str:
    local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(tz))
    if granularity == "month":
        return local.strftime("%Y-%m")
    if granularity == "week":
        local = local - timedelta(days=int(local.strftime("%w")))
    return local.strftime("%Y-%m-%d")


def _summary(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"count": 0, "averageMs": 0, "medianMs": 0, "p90Ms": 0, "p95Ms": 0}
    pick = lambda q: values[int(len(values) * q)]  # noqa: E731
    return {"count": len(values), "averageMs": sum(values) / len(values), "medianMs": pick(0.5),
            "p90Ms": pick(0.9), "p95Ms": pick(0.95)}  # fmt: skip


async def _seed(backend: Backend, team: Team, agents: list, generated: list[dict], tz: str) -> list[str]:
    now = BASE
    ids = []
    await backend.insert("officeHours", {"workspaceId": team.workspace_id, "timezone": tz, "schedule": [],
                                         "createdAt": now, "updatedAt": now})  # fmt: skip
    for row in generated:
        doc = {"workspaceId": team.workspace_id, "status": row["status"], "createdAt": row["createdAt"],
               "updatedAt": row["createdAt"]}  # fmt: skip
        if row["channel"]:
            doc["channel"] = row["channel"]
        if row["agent"] is not None:
            doc["assignedAgentId"] = agents[row["agent"]].user_id
        if row["response"] is not None:
            doc["firstResponseAt"] = row["createdAt"] + row["response"]
        if row["resolution"] is not None:
            doc["resolvedAt"] = row["createdAt"] + row["resolution"]
        conversation = await backend.insert("conversations", doc)
        ids.append(conversation)
        if row["rating"] is not None:
            rating = {"workspaceId": team.workspace_id, "conversationId": conversation, "rating": row["rating"],
                      "createdAt": row["createdAt"]}  # fmt: skip
            if "assignedAgentId" in doc:
                rating["agentId"] = doc["assignedAgentId"]
            await backend.insert("csatResponses", rating)
    return ids


async def _snapshot_every_day(backend: Backend, team: Team, tz: str) -> None:
    """Daily snapshots of every local day the generated data can fall in (as the cron job keeps them)."""
    snapshots = backend.lib("report_snapshots")
    zone = ZoneInfo(tz)
    for day in snapshots.whole_days(BASE - 3 * DAY, BASE + 44 * DAY, zone):

        async def refresh(ctx, day=day) -> None:
            await snapshots.refresh_day(ctx, team.workspace_id, day, zone, snapshots.STEP_LOOKUPS)

        await backend.t.run(refresh)


async def _check(generated: list[dict], window: tuple[float, float], tz: str, granularity: str, through_snapshots: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        backend = await open_backend(Path(directory) / "data")
        try:
            team = await backend.seed_team()
            agents = [await backend.add_member(team, "agent") for _ in range(3)]
            ids = await _seed(backend, team, agents, generated, tz)
            if through_snapshots:
                await _snapshot_every_day(backend, team, tz)
                if generated:  # a change after the snapshots: its day must be read from rows again
                    generated[0]["status"] = "closed"
                    await backend.patch(ids[0], {"status": "closed", "updatedAt": backend.t.now_ms()})
            start, end = window
            args = {"workspaceId": team.workspace_id, "startDate": start, "endDate": end}
            inside = [row for row in generated if start <= row["createdAt"] <= end]

            volume = await backend.call("reporting:getConversationMetrics", {**args, "granularity": granularity},
                                        as_=team.admin)  # fmt: skip
            periods = Counter(_key(row["createdAt"], granularity, tz) for row in inside)
            assert volume["volumeByPeriod"] == [{"period": k, "count": periods[k]} for k in sorted(periods)]
            assert volume["byStatus"] == {s: sum(r["status"] == s for r in inside) for s in ("open", "closed", "snoozed")}
            assert volume["byChannel"]["email"] == sum(r["channel"] == "email" for r in inside)
            assert volume["total"] == len(inside) and volume["truncated"] is False

            responses = [r["response"] for r in inside if r["response"] is not None and r["response"] > 0]
            got = await backend.call("reporting:getResponseTimeMetrics", args, as_=team.admin)
            assert {k: got[k] for k in _summary(responses)} == _summary(responses)
            resolutions = [r["resolution"] for r in inside if r["resolution"] is not None and r["resolution"] > 0]
            got = await backend.call("reporting:getResolutionTimeMetrics", args, as_=team.admin)
            assert {k: got[k] for k in _summary(resolutions)} == _summary(resolutions)

            per_agent = await backend.call("reporting:getAgentMetrics", args, as_=team.admin)
            expected = {}
            for n, agent in enumerate(agents):
                mine = [r for r in inside if r["agent"] == n]
                if mine:
                    expected[agent.user_id] = (len(mine), sum(r["resolution"] is not None and r["resolution"] > 0
                                                              for r in mine))  # fmt: skip
            assert {m["agentId"]: (m["conversationsHandled"], m["resolved"]) for m in per_agent} == expected

            rated = [r["rating"] for r in inside if r["rating"] is not None]
            csat = await backend.call("reporting:getCsatMetrics", args, as_=team.admin)
            assert csat["totalResponses"] == len(rated)
            assert csat["averageRating"] == (sum(rated) / len(rated) if rated else 0)
            assert csat["ratingDistribution"] == {str(s): rated.count(float(s)) for s in range(1, 6)}

            workload = await backend.call("reporting:getAgentWorkloadDistribution", {"workspaceId": team.workspace_id},
                                          as_=team.admin)  # fmt: skip
            opened = [r for r in generated if r["status"] == "open"]
            assert workload["unassigned"] == sum(r["agent"] is None for r in opened)
            assert workload["total"] == len(opened)
        finally:
            await backend.close()


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=conversations, window=ranges, tz=st.sampled_from(ZONES),
       granularity=st.sampled_from(("day", "week", "month")), through_snapshots=st.booleans())  # fmt: skip
def test_reports_match_a_brute_force_computation(generated, window, tz, granularity, through_snapshots):
    asyncio.run(_check(generated, window, tz, granularity, through_snapshots))


async def test_reports_are_for_agents_who_may_read_conversations(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id, "startDate": 0.0, "endDate": BASE}
    outsider = (await backend.seed_team()).admin
    await backend.refused("reporting:getConversationMetrics", args, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("reporting:getDashboardSummary", args, code="NOT_AUTHENTICATED")
    summary = await backend.call("reporting:getDashboardSummary", args, as_=team.admin)
    assert summary["totalConversations"] == 0 and summary["truncated"] is False
    assert (await backend.call("reporting:getCsatScore", {"workspaceId": team.workspace_id}, as_=team.admin))[
        "totalResponses"
    ] == 0


async def test_ai_against_human_and_knowledge_gaps(backend: Backend, team: Team):
    ws = team.workspace_id
    base = {"workspaceId": ws, "status": "open", "createdAt": BASE, "updatedAt": BASE}
    ai = await backend.insert("conversations", {**base, "aiWorkflowState": "ai_handled", "firstResponseAt": BASE + 10})
    human = await backend.insert("conversations", {**base, "aiWorkflowState": "none", "firstResponseAt": BASE + 1000})
    for conversation, rating in ((ai, 5.0), (human, 3.0)):
        await backend.insert("csatResponses", {"workspaceId": ws, "conversationId": conversation, "rating": rating,
                                               "createdAt": BASE})  # fmt: skip
    answer = {"workspaceId": ws, "conversationId": ai, "response": "r", "sources": [], "generationTimeMs": 5.0,
              "model": "m", "provider": "p", "createdAt": BASE}  # fmt: skip
    for query, confidence, handed_off, feedback in (
        ("Gift cards?", 0.2, True, None), (" gift cards? ", 0.4, True, None), ("Refunds", 0.9, False, "not_helpful"),
        ("Shipping", 0.9, False, "helpful"),
    ):  # fmt: skip
        extra = {"feedback": feedback} if feedback else {}
        await backend.insert("aiResponses", {**answer, "query": query, "confidence": confidence,
                                             "handedOff": handed_off, **extra})  # fmt: skip
    args = {"workspaceId": ws, "startDate": BASE - DAY, "endDate": BASE + DAY}
    compared = await backend.call("reporting:getAiVsHumanComparison", args, as_=team.admin)
    assert compared["ai"] == {"conversationCount": 1, "avgResponseTimeMs": 10, "avgCsatRating": 5, "csatResponseCount": 1}
    assert compared["human"]["avgResponseTimeMs"] == 1000 and compared["human"]["avgCsatRating"] == 3
    gaps = await backend.call("reporting:getKnowledgeGaps", args, as_=team.admin)
    assert gaps == [{"query": "gift cards?", "confidence": 0.2, "count": 2}, {"query": "refunds", "confidence": 0.9,
                                                                             "count": 1}]  # fmt: skip


async def test_the_first_agent_reply_is_the_first_response_reports_measure(backend: Backend, team: Team):
    conversation = await backend.visitor_conversation(await backend.boot(team.workspace_id))
    created = (await backend.get(conversation))["createdAt"]
    await backend.patch(conversation, {"createdAt": created - 60_000.0})
    reply = {"conversationId": conversation, "content": "hi", "senderType": "agent", "senderId": team.admin.user_id}
    await backend.call("messages:send", reply, as_=team.admin)
    first = (await backend.get(conversation))["firstResponseAt"]
    await backend.call("messages:send", {**reply, "content": "again"}, as_=team.admin)
    assert (await backend.get(conversation))["firstResponseAt"] == first
    args = {"workspaceId": team.workspace_id, "startDate": 0.0, "endDate": first + 1}
    metrics = await backend.call("reporting:getResponseTimeMetrics", args, as_=team.admin)
    assert metrics["count"] == 1 and metrics["medianMs"] == first - (created - 60_000.0)
