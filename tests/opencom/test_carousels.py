"""carousels: authoring on the campaigns screen, status moves, the mobile SDK's delivery and the stats."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team

pytestmark = pytest.mark.asyncio

SCREENS = [
    {"id": "s1", "title": " Welcome ", "body": ""},
    {
        "id": "",
        "title": "",
        "body": "Second",
        "buttons": [{"text": "Go", "action": "url", "url": "https://opencom.dev"}, {"text": " ", "action": "next"}],
    },
]
PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}


async def _carousel(backend: Backend, team: Team, name: str = "Onboarding", **fields) -> str:
    args = {"workspaceId": team.workspace_id, "name": name, "screens": SCREENS, **fields}
    return await backend.call("carousels:create", args, as_=team.admin)


async def test_screens_are_tidied_and_the_list_is_newest_first(backend: Backend, team: Team):
    first = await _carousel(backend, team, "  First ")
    second = await _carousel(backend, team, "Second", priority=2.0)
    listed = await backend.call("carousels:list", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert [row["_id"] for row in listed] == [second, first]
    carousel = await backend.call("carousels:get", {"id": first}, as_=team.admin)
    assert (carousel["name"], carousel["status"]) == ("First", "draft")
    assert carousel["screens"] == [
        {"id": "s1", "title": "Welcome"},
        {
            "id": "screen-2",
            "body": "Second",
            "buttons": [{"text": "Go", "action": "url", "url": "https://opencom.dev"}],
        },
    ]
    copy = await backend.call("carousels:duplicate", {"id": second}, as_=team.admin)
    duplicated = await backend.call("carousels:get", {"id": copy}, as_=team.admin)
    assert (duplicated["name"], duplicated["status"], duplicated["priority"]) == ("Second (Copy)", "draft", 2.0)


async def test_bad_input_is_refused_and_changes_nothing(backend: Backend, team: Team):
    carousel = await _carousel(backend, team)
    before = await backend.dump()
    cases = [
        ({"id": carousel, "name": "  "}, "Carousel name is required."),
        ({"id": carousel, "screens": []}, "Carousel requires at least one screen."),
        ({"id": carousel, "screens": [{"id": "a", "title": " "}]}, "Screen 1 must include a title or body."),
        (
            {
                "id": carousel,
                "screens": [
                    {"id": "a", "title": "t", "buttons": [{"text": "x", "action": "url", "url": "javascript:alert(1)"}]}
                ],
            },
            "Screen 1, button 1 requires a valid http(s) URL.",
        ),
        (
            {
                "id": carousel,
                "screens": [
                    {"id": "a", "body": "b", "buttons": [{"text": "x", "action": "deeplink", "deepLink": "nope"}]}
                ],
            },
            "Screen 1, button 1 requires a valid deep link URL.",
        ),
        ({"id": carousel, "targeting": {"type": "condition"}}, None),
    ]
    for args, message in cases:
        refusal = await backend.refused("carousels:update", args, as_=team.admin, code="INVALID_INPUT")
        assert message is None or refusal["message"] == message
    await backend.call("carousels:activate", {"id": carousel}, as_=team.admin)
    refusal = await backend.refused("carousels:activate", {"id": carousel}, as_=team.admin, code="INVALID_INPUT")
    assert refusal["message"] == "Carousel is already active."
    await backend.call("carousels:archive", {"id": carousel}, as_=team.admin)
    refusal = await backend.refused("carousels:activate", {"id": carousel}, as_=team.admin, code="INVALID_INPUT")
    assert refusal["message"] == "Cannot transition carousel from archived to active."
    after = await backend.dump()
    assert after["carouselImpressions"] == before["carouselImpressions"] == []


async def test_strangers_and_agents_without_the_permission_get_nothing(backend: Backend, team: Team):
    carousel = await _carousel(backend, team)
    other = await backend.seed_team()
    agent = await backend.add_member(team, "agent")
    assert await backend.call("carousels:get", {"id": carousel}, as_=other.admin) is None
    assert await backend.call("carousels:list", {"workspaceId": team.workspace_id}, as_=other.admin) == []
    assert await backend.call("carousels:getStats", {"id": carousel}, as_=agent) is None
    await backend.refused("carousels:remove", {"id": carousel}, as_=other.admin, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("carousels:pause", {"id": carousel}, code="NOT_AUTHENTICATED")
    await backend.refused("carousels:update", {"id": carousel, "name": "x"}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused(
        "carousels:create",
        {"workspaceId": team.workspace_id, "name": "x", "screens": SCREENS},
        as_=other.admin,
        code="NOT_WORKSPACE_MEMBER",
    )


async def test_delivery_to_the_mobile_sdk_and_stats(backend: Backend, team: Team):
    segment = await backend.call(
        "segments:create", {"workspaceId": team.workspace_id, "name": "Pro", "audienceRules": PRO}, as_=team.admin
    )
    everyone = await _carousel(backend, team, "Everyone", priority=1.0)
    pro_only = await _carousel(backend, team, "Pro", targeting={"segmentId": segment}, priority=5.0)
    draft = await _carousel(backend, team, "Draft")
    for carousel in (everyone, pro_only):
        await backend.call("carousels:activate", {"id": carousel}, as_=team.admin)
    pro = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    free = await backend.boot(team.workspace_id)

    async def active(visitor) -> list[str]:
        args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
        return [row["name"] for row in await backend.call("carousels:listActive", args)]

    assert await active(pro) == ["Pro", "Everyone"] and await active(free) == ["Everyone"]
    for visitor, action in ((pro, "shown"), (pro, "completed"), (free, "shown"), (free, "shown")):
        await backend.call(
            "carousels:recordImpression", {"carouselId": everyone, "sessionToken": visitor.token, "action": action}
        )
    again = await backend.call(
        "carousels:recordImpression", {"carouselId": everyone, "sessionToken": pro.token, "action": "dismissed"}
    )
    assert (await backend.get(again))["action"] == "completed"
    assert await active(pro) == ["Pro"]
    stats = await backend.call("carousels:getStats", {"id": everyone}, as_=team.admin)
    assert stats == {
        "shown": 2.0,
        "completed": 1.0,
        "dismissed": 0.0,
        "uniqueVisitors": 2.0,
        "completionRate": 50.0,
        "dismissRate": 0.0,
    }
    await backend.refused(
        "carousels:recordImpression",
        {"carouselId": draft, "sessionToken": pro.token, "action": "shown"},
        code="INVALID_INPUT",
    )
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    await backend.refused(
        "carousels:recordImpression",
        {"carouselId": everyone, "sessionToken": foreign.token, "action": "shown"},
        code="NOT_AUTHORIZED",
    )
    await backend.refused(
        "carousels:recordImpression",
        {"carouselId": everyone, "sessionToken": free.token, "visitorId": pro.visitor_id, "action": "shown"},
        code="NOT_AUTHORIZED",
    )
    await backend.call("carousels:remove", {"id": everyone}, as_=team.admin)
    assert (await backend.dump())["carouselImpressions"] == []
