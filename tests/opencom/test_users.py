"""The sign-up hook (``users:createOrUpdateUser``) and direct membership management."""

from opencom_backend import Backend, Team


async def _member_rows(backend: Backend, user_id: str) -> list[dict]:
    return [m for m in (await backend.dump())["workspaceMembers"] if m["userId"] == user_id]


async def test_first_sign_up_creates_user_workspace_and_admin_membership(backend: Backend):
    user_id = await backend.internal("users:createOrUpdateUser", {"email": "  Ada@Example.COM ", "name": " Ada "})
    user = await backend.get(user_id)
    assert (user["email"], user["name"], user["role"]) == ("ada@example.com", "Ada", "admin")
    workspace = await backend.get(user["workspaceId"])
    assert workspace["name"] == "Ada's Workspace" and workspace["helpCenterAccessPolicy"] == "public"
    [membership] = await _member_rows(backend, user_id)
    assert (membership["role"], membership["workspaceId"]) == ("admin", workspace["_id"])
    assert "permissions" not in membership


async def test_workspace_name_falls_back_to_the_email_local_part(backend: Backend):
    named = await backend.get(
        await backend.internal("users:createOrUpdateUser", {"email": "x@a.dev", "workspaceName": " Acme "})
    )
    unnamed = await backend.get(await backend.internal("users:createOrUpdateUser", {"email": "bob@a.dev"}))
    assert (await backend.get(named["workspaceId"]))["name"] == "Acme"
    assert (await backend.get(unnamed["workspaceId"]))["name"] == "bob's Workspace"


async def test_signing_in_again_links_to_the_same_user_and_only_fills_a_missing_name(backend: Backend):
    first = await backend.internal("users:createOrUpdateUser", {"email": "sam@a.dev"})
    again = await backend.internal("users:createOrUpdateUser", {"email": "SAM@a.dev", "name": "Sam"})
    renamed = await backend.internal("users:createOrUpdateUser", {"existingUserId": first, "name": "Other"})
    assert first == again == renamed
    assert (await backend.get(first))["name"] == "Sam"
    assert len((await backend.dump())["workspaces"]) == 1


async def test_sign_up_accepts_pending_invitations(backend: Backend, team: Team):
    invitation = await backend.insert(
        "workspaceInvitations",
        {
            "workspaceId": team.workspace_id,
            "email": "new@a.dev",
            "role": "viewer",
            "invitedBy": team.admin.user_id,
            "status": "pending",
            "createdAt": 1.0,
        },
    )
    user_id = await backend.internal("users:createOrUpdateUser", {"email": "new@a.dev"})
    roles = {m["workspaceId"]: m["role"] for m in await _member_rows(backend, user_id)}
    assert roles[team.workspace_id] == "viewer" and len(roles) == 2
    assert (await backend.get(invitation))["status"] == "accepted"
    logs = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "user.invited"}, as_=team.admin
    )
    assert [log["metadata"]["targetUserId"] for log in logs] == [user_id]


async def test_sign_up_without_email_is_refused(backend: Backend):
    result = await backend.t.call("users:createOrUpdateUser", {"name": "nobody"})
    assert result.error.data == {"code": "INVALID_INPUT", "message": "Email is required for signup"}


async def test_add_membership_is_an_upsert(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent", permissions=["conversations.read"])
    args = {"userId": agent.user_id, "workspaceId": team.workspace_id, "role": "viewer"}
    await backend.internal("users:addMembership", args)
    rows = [m for m in await _member_rows(backend, agent.user_id) if m["workspaceId"] == team.workspace_id]
    assert len(rows) == 1 and rows[0]["role"] == "viewer" and "permissions" not in rows[0]

