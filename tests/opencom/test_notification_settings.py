"""Notification settings: workspace defaults, each agent's own overrides over them, muting silences push."""

from __future__ import annotations

from opencom_backend import Backend, Team


async def test_preferences_override_workspace_defaults_and_mute_turns_push_off(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    mine = await backend.call("notificationSettings:getMyPreferences", ws, as_=agent)
    assert mine == {
        "defaults": {"newVisitorMessageEmail": True, "newVisitorMessagePush": True},
        "overrides": {"newVisitorMessageEmail": None, "newVisitorMessagePush": None},
        "effective": {"newVisitorMessageEmail": True, "newVisitorMessagePush": True},
        "muted": False,
    }
    await backend.refused("notificationSettings:updateWorkspaceDefaults", {**ws, "newVisitorMessagePush": False},
                          as_=agent, code="PERMISSION_DENIED")  # fmt: skip
    assert await backend.call("notificationSettings:getWorkspaceDefaults", ws, as_=agent) is None
    await backend.call("notificationSettings:updateWorkspaceDefaults", {**ws, "newVisitorMessageEmail": False},
                       as_=team.admin)  # fmt: skip
    assert await backend.call("notificationSettings:getWorkspaceDefaults", ws, as_=team.admin) == {
        "newVisitorMessageEmail": False, "newVisitorMessagePush": True,
    }  # fmt: skip

    muted_email = {**ws, "newVisitorMessageEmail": True, "muted": True}
    await backend.call("notificationSettings:updateMyPreferences", muted_email, as_=agent)
    mine = await backend.call("notificationSettings:getMyPreferences", ws, as_=agent)
    assert mine["defaults"] == {"newVisitorMessageEmail": False, "newVisitorMessagePush": True}
    assert mine["overrides"] == {"newVisitorMessageEmail": True, "newVisitorMessagePush": None}
    assert mine["effective"] == {"newVisitorMessageEmail": True, "newVisitorMessagePush": False} and mine["muted"]
    admin_view = await backend.call("notificationSettings:getMyPreferences", ws, as_=team.admin)
    assert admin_view["effective"]["newVisitorMessageEmail"] is False and not admin_view["muted"]
    await backend.call("notificationSettings:updateMyPreferences", {**ws, "muted": False}, as_=agent)
    mine = await backend.call("notificationSettings:getMyPreferences", ws, as_=agent)
    assert mine["overrides"]["newVisitorMessageEmail"] is True and not mine["muted"]

    stranger = (await backend.seed_team()).admin
    assert await backend.call("notificationSettings:getMyPreferences", ws, as_=stranger) is None
    await backend.refused("notificationSettings:updateMyPreferences", {**ws, "muted": True}, as_=stranger,
                          code="NOT_WORKSPACE_MEMBER")  # fmt: skip
