"""Automation settings: member reads with defaults, admin writes."""

from opencom_backend import Backend, Team

DEFAULTS = {
    "suggestArticlesEnabled": False,
    "showReplyTimeEnabled": False,
    "collectEmailEnabled": True,
    "askForRatingEnabled": False,
}


async def test_defaults_then_upsert(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    assert await backend.call("automationSettings:get", ws) is None
    assert await backend.call("automationSettings:get", ws, as_=team.admin) is None
    defaults = await backend.call("automationSettings:getOrCreate", ws, as_=agent)
    assert {key: defaults[key] for key in DEFAULTS} == DEFAULTS
    assert (await backend.dump())["automationSettings"] == []

    await backend.refused("automationSettings:upsert", {**ws, "askForRatingEnabled": True}, code="NOT_AUTHENTICATED")
    await backend.refused(
        "automationSettings:upsert", {**ws, "askForRatingEnabled": True}, as_=agent, code="PERMISSION_DENIED"
    )
    row_id = await backend.call("automationSettings:upsert", {**ws, "askForRatingEnabled": True}, as_=team.admin)
    assert (
        await backend.call("automationSettings:upsert", {**ws, "collectEmailEnabled": False}, as_=team.admin) == row_id
    )
    saved = await backend.call("automationSettings:get", ws, as_=team.admin)
    assert {key: saved[key] for key in DEFAULTS} == {
        **DEFAULTS,
        "askForRatingEnabled": True,
        "collectEmailEnabled": False,
    }
    assert (await backend.call("automationSettings:getOrCreate", ws, as_=agent))["_id"] == row_id
    assert await backend.call("automationSettings:get", ws, as_=agent) is None


async def test_non_members_read_only_the_toggles(backend: Backend, team: Team):
    """The widget reads them anonymously; nothing but the four switches reaches a non-member."""
    outsider = (await backend.seed_team()).admin
    ws = {"workspaceId": team.workspace_id}
    assert await backend.call("automationSettings:getOrCreate", ws) == DEFAULTS
    await backend.call("automationSettings:upsert", {**ws, "askForRatingEnabled": True}, as_=team.admin)
    assert await backend.call("automationSettings:getOrCreate", ws, as_=outsider) == {
        **DEFAULTS,
        "askForRatingEnabled": True,
    }
