"""The team: listing, inviting by email (with expiry), cancelling, roles, removal, ownership."""

from opencom_backend import Backend, Person, Team


async def _membership(backend: Backend, team: Team, user_id: str) -> dict:
    members = await backend.call("workspaceMembers:listByWorkspace", {"workspaceId": team.workspace_id}, as_=team.admin)
    return next(member for member in members if member["userId"] == user_id)


async def test_inviting_a_new_address_emails_a_pending_invitation_accepted_on_sign_up(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id, "email": " New@Example.com ", "role": "agent", "baseUrl": "https://app"}
    assert await backend.call("workspaceMembers:inviteToWorkspace", args, as_=team.admin) == {"status": "invited"}
    await backend.refused("workspaceMembers:inviteToWorkspace", args, as_=team.admin, code="ALREADY_EXISTS")
    [pending] = await backend.call(
        "workspaceMembers:getWorkspacePendingInvitations", {"workspaceId": team.workspace_id}, as_=team.admin
    )
    assert (pending["email"], pending["role"], pending["inviterName"]) == ("new@example.com", "agent", "Test Admin")
    assert pending["expiresAt"] - pending["createdAt"] == 7 * 86_400_000
    [mail] = [row for row in (await backend.dump())["outbox"] if row["purpose"] == "workspace-invitation"]
    assert mail["to"] == ["new@example.com"] and "https://app/invite/accept?email=new%40example.com" in mail["text"]

    user_id = await backend.internal("users:createOrUpdateUser", {"email": "new@example.com"})
    assert (await _membership(backend, team, user_id))["role"] == "agent"
    assert (
        await backend.call(
            "workspaceMembers:getWorkspacePendingInvitations", {"workspaceId": team.workspace_id}, as_=team.admin
        )
        == []
    )


async def test_an_expired_or_cancelled_invitation_makes_no_member(backend: Backend, team: Team):
    for email in ("late@example.com", "gone@example.com"):
        args = {"workspaceId": team.workspace_id, "email": email, "role": "viewer"}
        await backend.call("workspaceMembers:inviteToWorkspace", args, as_=team.admin)
    invitations = {row["email"]: row for row in (await backend.dump())["workspaceInvitations"]}
    await backend.patch(invitations["late@example.com"]["_id"], {"expiresAt": 1.0})
    agent = await backend.add_member(team, "agent")
    gone = {"invitationId": invitations["gone@example.com"]["_id"]}
    await backend.refused("workspaceMembers:cancelInvitation", gone, as_=agent, code="PERMISSION_DENIED")
    assert await backend.call("workspaceMembers:cancelInvitation", gone, as_=team.admin) == {"success": True}
    for email in ("late@example.com", "gone@example.com"):
        user_id = await backend.internal("users:createOrUpdateUser", {"email": email})
        members = await backend.call(
            "workspaceMembers:listByWorkspace", {"workspaceId": team.workspace_id}, as_=team.admin
        )
        assert user_id not in {member["userId"] for member in members}
    # An expired invitation no longer blocks a new one.
    again = {"workspaceId": team.workspace_id, "email": "late2@example.com", "role": "agent"}
    assert (await backend.call("workspaceMembers:inviteToWorkspace", again, as_=team.admin))["status"] == "invited"


async def test_inviting_an_existing_account_adds_it_and_agents_cannot_invite(backend: Backend, team: Team):
    other = (await backend.seed_team()).admin
    args = {"workspaceId": team.workspace_id, "email": other.email, "role": "admin"}
    agent = await backend.add_member(team, "agent")
    await backend.refused("workspaceMembers:inviteToWorkspace", args, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("workspaceMembers:inviteToWorkspace", args, code="NOT_AUTHENTICATED")
    assert await backend.call("workspaceMembers:inviteToWorkspace", args, as_=team.admin) == {"status": "added"}
    assert (await _membership(backend, team, other.user_id))["role"] == "admin"
    await backend.refused("workspaceMembers:inviteToWorkspace", args, as_=team.admin, code="ALREADY_EXISTS")


async def test_roles_removal_and_ownership_never_leave_the_workspace_without_its_owner(backend: Backend, team: Team):
    owner_membership = await _membership(backend, team, team.admin.user_id)
    await backend.patch(owner_membership["_id"], {"role": "owner"})
    agent = await backend.add_member(team, "agent")
    agent_membership = await _membership(backend, team, agent.user_id)
    owner_id = {"membershipId": owner_membership["_id"]}

    await backend.refused("workspaceMembers:updateRole", {**owner_id, "role": "agent"}, as_=team.admin)
    await backend.refused("workspaceMembers:remove", owner_id, as_=team.admin)
    promote = {"membershipId": agent_membership["_id"], "role": "admin"}
    await backend.refused("workspaceMembers:updateRole", promote, as_=agent, code="PERMISSION_DENIED")
    await backend.call("workspaceMembers:updateRole", promote, as_=team.admin)
    assert (await _membership(backend, team, agent.user_id))["role"] == "admin"

    transfer = {"workspaceId": team.workspace_id, "newOwnerId": agent.user_id}
    await backend.refused("workspaceMembers:transferOwnership", transfer, as_=agent, code="PERMISSION_DENIED")
    stranger = Person((await backend.seed_team()).admin.user_id, "x@example.com")
    await backend.refused(
        "workspaceMembers:transferOwnership", {**transfer, "newOwnerId": stranger.user_id}, as_=team.admin
    )
    await backend.call("workspaceMembers:transferOwnership", transfer, as_=team.admin)
    roles = {
        m["userId"]: m["role"]
        for m in (await backend.dump())["workspaceMembers"]
        if m["workspaceId"] == team.workspace_id
    }
    assert roles == {team.admin.user_id: "admin", agent.user_id: "owner"}
    assert (await backend.call("workspaceMembers:getMemberRole", {"workspaceId": team.workspace_id}, as_=agent))[
        "isOwner"
    ] is True

    await backend.call("workspaceMembers:remove", {"membershipId": owner_membership["_id"]}, as_=agent)
    roles = {m["userId"] for m in (await backend.dump())["workspaceMembers"] if m["workspaceId"] == team.workspace_id}
    assert roles == {agent.user_id}
    actions = [
        log["action"] for log in await backend.call("auditLogs:list", {"workspaceId": team.workspace_id}, as_=agent)
    ]
    assert {"user.role.changed", "user.ownership.transferred", "user.removed"} <= set(actions)
