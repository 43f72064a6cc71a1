"""Notification settings: workspace defaults, each agent's own overrides, muting."""

from opencom_backend import Backend, Team


async def test_defaults_overrides_and_muting(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    mine = await backend.call("notificationSettings:getMyPreferences", ws, as_=agent)
    assert mine["effective"] == {"newVisitorMessageEmail": True, "newVisitorMessagePush": True}
    assert mine["overrides"] == {"newVisitorMessageEmail": None, "newVisitorMessagePush": None} and not mine["muted"]

    await backend.refused("notificationSettings:updateWorkspaceDefaults", {**ws, "newVisitorMessageEmail": False},
                          as_=agent, code="PERMISSION_DENIED")  # fmt: skip
    assert await backend.call("notificationSettings:getWorkspaceDefaults", ws, as_=agent) is None
    await backend.call("notificationSettings:updateWorkspaceDefaults", {**ws, "newVisitorMessageEmail": False},
                       as_=team.admin)  # fmt: skip
    assert await backend.call("notificationSettings:getWorkspaceDefaults", ws, as_=team.admin) == {
        "newVisitorMessageEmail": False, "newVisitorMessagePush": True}  # fmt: skip

    await backend.call("notificationSettings:updateMyPreferences", {**ws, "newVisitorMessageEmail": True, "muted": True},
                       as_=agent)  # fmt: skip
    mine = await backend.call("notificationSettings:getMyPreferences", ws, as_=agent)
    assert mine["defaults"]["newVisitorMessageEmail"] is False and mine["overrides"]["newVisitorMessageEmail"] is True
    assert mine["effective"] == {"newVisitorMessageEmail": True, "newVisitorMessagePush": False} and mine["muted"]
    admin_view = await backend.call("notificationSettings:getMyPreferences", ws, as_=team.admin)
    assert admin_view["effective"]["newVisitorMessageEmail"] is False and not admin_view["muted"]

    outsider = (await backend.seed_team()).admin
    assert await backend.call("notificationSettings:getMyPreferences", ws, as_=outsider) is None
    await backend.refused("notificationSettings:updateMyPreferences", {**ws, "muted": True}, as_=outsider,
                          code="NOT_WORKSPACE_MEMBER")  # fmt: skip
