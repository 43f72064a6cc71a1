"""outboundMessages: lifecycle, and getEligible's schedule windows, frequency caps, page rules and segments."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team, Visitor

pytestmark = pytest.mark.asyncio

PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
URL = "https://shop.test/pricing"


async def _message(backend: Backend, team: Team, name: str, **fields) -> str:
    args = {"workspaceId": team.workspace_id, "type": "post", "name": name, "content": {"title": name, "body": "hi"}, **fields}
    message = await backend.call("outboundMessages:create", args, as_=team.admin)
    await backend.call("outboundMessages:activate", {"id": message}, as_=team.admin)
    return message


async def _eligible(backend: Backend, visitor: Visitor, url: str = URL, session: str | None = None) -> list[str]:
    args = {"workspaceId": visitor.workspace_id, "sessionToken": visitor.token, "currentUrl": url}
    if session:
        args["sessionId"] = session
    return [row["name"] for row in await backend.call("outboundMessages:getEligible", args)]


async def test_eligibility_rules(backend: Backend, team: Team):
    segment = await backend.call("segments:create", {"workspaceId": team.workspace_id, "name": "Pro", "audienceRules": PRO}, as_=team.admin)
    await _message(backend, team, "always", priority=1.0)
    await _message(backend, team, "pricing page", triggers={"type": "page_visit", "pageUrl": "/pricing"})
    await _message(backend, team, "pro only", targeting={"segmentId": segment}, priority=5.0)
    await _message(backend, team, "future", scheduling={"startDate": 4e12})
    await _message(backend, team, "ended", scheduling={"endDate": 1.0})
    paused = await _message(backend, team, "paused")
    await backend.call("outboundMessages:pause", {"id": paused}, as_=team.admin)
    pro = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    free = await backend.boot(team.workspace_id)
    assert await _eligible(backend, pro) == ["pro only", "always", "pricing page"]
    assert await _eligible(backend, free, "https://shop.test/home") == ["always"]


async def test_frequency_caps(backend: Backend, team: Team):
    once = await _message(backend, team, "once", frequency="once")
    per_session = await _message(backend, team, "per session", frequency="once_per_session")
    visitor = await backend.boot(team.workspace_id)
    for message in (once, per_session):
        await backend.call("outboundMessages:trackImpression", {"messageId": message, "sessionToken": visitor.token, "sessionId": "s1", "action": "shown"})
    assert await _eligible(backend, visitor, session="s1") == []
    assert await _eligible(backend, visitor, session="s2") == ["per session"]


async def test_stats_and_lifecycle(backend: Backend, team: Team):
    message = await _message(backend, team, "m")
    visitor = await backend.boot(team.workspace_id)
    for action in ("shown", "shown", "clicked"):
        await backend.call("outboundMessages:trackImpression", {"messageId": message, "sessionToken": visitor.token, "action": action, "buttonIndex": 0.0})
    stats = await backend.call("outboundMessages:getStats", {"id": message}, as_=team.admin)
    assert stats == {"shown": 2.0, "clicked": 1.0, "dismissed": 0.0, "clickRate": 50.0, "dismissRate": 0.0}
    await backend.refused(
        "outboundMessages:update", {"id": message, "targeting": {"type": "condition"}}, as_=team.admin, code="INVALID_INPUT"
    )
    await backend.call("outboundMessages:archive", {"id": message}, as_=team.admin)
    assert await _eligible(backend, visitor) == []
    assert [row["_id"] for row in await backend.call("outboundMessages:list", {"workspaceId": team.workspace_id, "status": "archived"}, as_=team.admin)] == [message]
    await backend.call("outboundMessages:remove", {"id": message}, as_=team.admin)
    assert await backend.call("outboundMessages:trackImpression", {"messageId": message, "sessionToken": visitor.token, "action": "shown"}) is None


async def test_impressions_only_for_the_sessions_visitor(backend: Backend, team: Team):
    message = await _message(backend, team, "m")
    victim = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    args = {"messageId": message, "sessionToken": other.token, "visitorId": victim.visitor_id, "action": "dismissed"}
    await backend.refused("outboundMessages:trackImpression", args, code="NOT_AUTHORIZED")
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    await backend.refused("outboundMessages:trackImpression", {"messageId": message, "sessionToken": foreign.token, "action": "shown"}, code="NOT_AUTHORIZED")
