"""Roles, permissions and the refusal order every agent-facing function follows."""

import pytest
from opencom_backend import Backend, Person, Team


async def test_role_permission_sets(backend: Backend):
    permissions = backend.lib("permissions")
    roles = permissions.ROLE_PERMISSIONS
    assert len(permissions.PERMISSIONS) == 23
    assert {role: len(granted) for role, granted in roles.items()} == {
        "owner": 23,
        "admin": 22,
        "agent": 8,
        "viewer": 4,
    }
    assert {"settings.billing", "data.delete", "audit.read", "users.manage"} <= roles["owner"]
    assert "settings.billing" not in roles["admin"] and {"users.manage", "settings.security"} <= roles["admin"]
    assert {"conversations.read", "conversations.reply", "snippets.manage"} <= roles["agent"]
    assert not {"users.manage", "settings.workspace", "articles.create", "data.delete", "audit.read"} & roles["agent"]
    assert roles["viewer"] == {"conversations.read", "users.read", "articles.read", "audit.read"}
    assert roles["owner"] > roles["admin"] > roles["agent"]


async def test_custom_permission_list_replaces_role_defaults(backend: Backend):
    permissions_of = backend.lib("permissions").permissions_of
    custom = {"role": "agent", "permissions": ["conversations.read", "articles.create"]}
    assert permissions_of(custom) == {"conversations.read", "articles.create"}
    assert permissions_of({"role": "agent", "permissions": []}) == backend.lib("permissions").ROLE_PERMISSIONS["agent"]


async def test_refusals_name_what_is_missing(backend: Backend, team: Team):
    probe = ("automationSettings:upsert", {"workspaceId": team.workspace_id, "collectEmailEnabled": False})
    outsider = (await backend.seed_team()).admin
    agent = await backend.add_member(team, "agent")

    unauthenticated = await backend.refused(*probe, code="NOT_AUTHENTICATED")
    assert unauthenticated["message"] == "Not authenticated"
    not_member = await backend.refused(*probe, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    assert not_member["message"] == "Not a member of this workspace"
    denied = await backend.refused(*probe, as_=agent, code="PERMISSION_DENIED")
    assert denied["message"] == "Permission denied: settings.workspace"
    assert await backend.call(*probe, as_=team.admin)


async def test_custom_permissions_grant_and_take_away(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent", permissions=["settings.workspace"])
    probe = ("automationSettings:upsert", {"workspaceId": team.workspace_id, "askForRatingEnabled": True})
    assert await backend.call(*probe, as_=agent)
    denied = await backend.refused("conversations:create", {"workspaceId": team.workspace_id}, as_=agent)
    assert denied["message"] == "Permission denied: conversations.reply"

    await backend.internal(
        "users:addMembership", {"userId": agent.user_id, "workspaceId": team.workspace_id, "role": "agent"}
    )
    assert await backend.call("conversations:create", {"workspaceId": team.workspace_id}, as_=agent)


@pytest.mark.parametrize("missing", ["email", "workspaceId", "role"])
async def test_user_rows_missing_account_fields_are_anonymous(backend: Backend, team: Team, missing: str):
    fields = {"email": "half@test.opencom.dev", "workspaceId": team.workspace_id, "role": "admin"}
    del fields[missing]
    user_id = await backend.insert("users", fields)
    await backend.internal(
        "users:addMembership", {"userId": user_id, "workspaceId": team.workspace_id, "role": "owner"}
    )
    ghost = Person(user_id, "half@test.opencom.dev")
    assert await backend.call("conversations:list", {"workspaceId": team.workspace_id}, as_=ghost) == []
    await backend.refused(
        "conversations:create", {"workspaceId": team.workspace_id}, as_=ghost, code="NOT_AUTHENTICATED"
    )
