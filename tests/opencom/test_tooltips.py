"""tooltips and the authoring sessions the widget drives (tours and tooltips) on the customer's site."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team

pytestmark = pytest.mark.asyncio

PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}


async def _tooltip(backend: Backend, team: Team, **fields) -> str:
    base = {"workspaceId": team.workspace_id, "name": "Hint", "elementSelector": "#buy", "content": "Buy here", "triggerType": "hover"}
    return await backend.call("tooltips:create", {**base, **fields}, as_=team.admin)


async def test_available_tooltips_follow_audience_and_trigger(backend: Backend, team: Team):
    page = {"type": "page_visit", "pageUrl": "/pricing"}
    targeted = await _tooltip(backend, team, audienceRules=PRO, triggers=page)
    everyone = await _tooltip(backend, team, name="Everyone")
    pro = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    free = await backend.boot(team.workspace_id)

    async def shown(visitor, url: str) -> set[str]:
        args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "triggerContext": {"currentUrl": url}}
        return {row["_id"] for row in await backend.call("tooltips:getAvailableTooltips", args)}

    assert await shown(pro, "https://x.test/pricing") == {targeted, everyone}
    assert await shown(pro, "https://x.test/home") == {everyone}
    assert await shown(free, "https://x.test/pricing") == {everyone}
    assert await backend.call("tooltips:getAvailableTooltips", {"workspaceId": team.workspace_id}) == []


async def test_tooltip_authoring_writes_the_picked_selector(backend: Backend, team: Team):
    tooltip = await _tooltip(backend, team)
    opened = await backend.call("tooltipAuthoringSessions:create", {"workspaceId": team.workspace_id, "tooltipId": tooltip}, as_=team.admin)
    ws = {"workspaceId": team.workspace_id, "token": opened["token"]}
    checked = await backend.call("tooltipAuthoringSessions:validate", ws)
    assert checked["valid"] and checked["tooltip"]["_id"] == tooltip
    other = await backend.seed_team()
    assert (await backend.call("tooltipAuthoringSessions:validate", {**ws, "workspaceId": other.workspace_id}))["valid"] is False
    picked = await backend.call("tooltipAuthoringSessions:updateSelector", {**ws, "elementSelector": "#cart"})
    assert picked == {"success": True, "selector": "#cart"}
    assert (await backend.get(tooltip))["elementSelector"] == "#cart"
    assert await backend.call("tooltipAuthoringSessions:end", ws) == {"success": True, "selectedSelector": "#cart"}
    assert (await backend.call("tooltipAuthoringSessions:validate", ws)) == {"valid": False, "reason": "Session is completed"}
    await backend.refused("tooltipAuthoringSessions:updateSelector", {**ws, "elementSelector": "#x"}, code="INVALID_INPUT")


async def test_tour_authoring_records_selectors_and_routes(backend: Backend, team: Team):
    tour = await backend.call("tours:create", {"workspaceId": team.workspace_id, "name": "T"}, as_=team.admin)
    step = await backend.call("tourSteps:create", {"tourId": tour, "type": "post", "content": "x"}, as_=team.admin)
    opened = await backend.call("authoringSessions:create", {"tourId": tour, "targetUrl": "https://x.test/app?opencom_authoring=1"}, as_=team.admin)
    token = {"token": opened["token"]}
    checked = await backend.call("authoringSessions:validate", token)
    assert checked["valid"] and [row["_id"] for row in checked["steps"]] == [step]
    await backend.call("authoringSessions:updateStep", {**token, "stepId": step, "elementSelector": "#go", "currentUrl": "https://x.test/app/settings?tab=1&opencom_authoring=abc"})
    stored = await backend.get(step)
    assert (stored["elementSelector"], stored["routePath"]) == ("#go", "/app/settings?tab=1")
    assert await backend.call("authoringSessions:setCurrentStep", {**token, "stepId": step}) == {"success": True}
    other_tour = await backend.call("tours:create", {"workspaceId": team.workspace_id, "name": "Other"}, as_=team.admin)
    foreign_step = await backend.call("tourSteps:create", {"tourId": other_tour, "type": "post", "content": "y"}, as_=team.admin)
    await backend.refused("authoringSessions:updateStep", {**token, "stepId": foreign_step, "elementSelector": "#x"}, code="INVALID_INPUT")
    assert await backend.call("authoringSessions:end", token) == {"success": True}
    assert await backend.call("authoringSessions:validate", token) == {"valid": False, "reason": "Session not found"}
    await backend.refused("authoringSessions:updateStep", {**token, "stepId": step, "elementSelector": "#x"}, code="NOT_AUTHENTICATED")


async def test_expired_authoring_tokens_are_refused(backend: Backend, team: Team):
    tour = await backend.call("tours:create", {"workspaceId": team.workspace_id, "name": "T"}, as_=team.admin)
    opened = await backend.call("authoringSessions:create", {"tourId": tour, "targetUrl": "https://x.test/"}, as_=team.admin)
    await backend.patch(opened["sessionId"], {"expiresAt": 1.0})
    assert await backend.call("authoringSessions:validate", {"token": opened["token"]}) == {"valid": False, "reason": "Session expired"}
    await backend.refused("authoringSessions:setCurrentStep", {"token": opened["token"]}, code="SESSION_EXPIRED")


async def test_only_managers_open_authoring_sessions(backend: Backend, team: Team):
    tour = await backend.call("tours:create", {"workspaceId": team.workspace_id, "name": "T"}, as_=team.admin)
    agent = await backend.add_member(team, "agent")
    await backend.refused("authoringSessions:create", {"tourId": tour, "targetUrl": "https://x.test/"}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("tooltipAuthoringSessions:create", {"workspaceId": team.workspace_id}, as_=agent, code="PERMISSION_DENIED")
