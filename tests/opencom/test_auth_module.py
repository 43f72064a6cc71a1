"""The ``auth`` module as a dashboard uses it: sign up through ``auth:signIn``, then ask who you are
(``currentUser``, ``getUserWorkspaces``), move between workspaces (``switchWorkspace``) and finish
the sign-up profile (``completeSignupProfile``).

Every caller here is the identity a real token proves: the test signs up with the action and
verifies the token it hands back, exactly what the server does with a client's ``Authenticate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from opencom_backend import Backend, Team

from runtime import ConvexError, knobs
from runtime.functions.executor import FunctionResult

PASSWORD = "Opencom!secret"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Password hashing is deliberately slow; these tests need it correct, not expensive.
    monkeypatch.setattr(knobs, "AUTH_SCRYPT_N", 1 << 10)


@dataclass(frozen=True)
class Account:
    """A signed-up agent: its user id and the identity its session token proves."""

    user_id: str
    identity: dict[str, Any]


def _password(flow: str, email: str, **params: Any) -> dict[str, Any]:
    return {"provider": "password", "params": {"flow": flow, "email": email, "password": PASSWORD, **params}}


async def _sign_in(backend: Backend, flow: str, email: str, **params: Any) -> Account:
    tokens = (await backend.call("auth:signIn", _password(flow, email, **params)))["tokens"]
    identity = await backend.executor.auth.verify(tokens["token"])
    return Account(identity["subject"].partition("|")[0], identity)


async def _sign_up(backend: Backend, email: str, **params: Any) -> Account:
    return await _sign_in(backend, "signUp", email, **params)


async def _run(
    backend: Backend, path: str, args: dict[str, Any] | None = None, *, as_: Account | None = None
) -> FunctionResult:
    caller = backend.t.with_identity(as_.identity) if as_ else backend.t
    return await caller.call(path, args or {}, public_only=True)


async def _call(backend: Backend, path: str, args: dict[str, Any] | None = None, *, as_: Account | None = None) -> Any:
    return (await _run(backend, path, args, as_=as_)).unwrap()


async def _refusal(backend: Backend, path: str, args: dict[str, Any], *, as_: Account | None = None) -> dict[str, Any]:
    error = (await _run(backend, path, args, as_=as_)).error
    assert isinstance(error, ConvexError), f"{path} should be refused"
    return error.data


async def _join(backend: Backend, account: Account, workspace_id: str, role: str) -> None:
    await backend.internal(
        "users:addMembership", {"userId": account.user_id, "workspaceId": workspace_id, "role": role}
    )


async def test_sign_up_creates_the_user_its_workspace_and_an_admin_membership(backend: Backend):
    account = await _sign_up(
        backend, "  New.Admin@Test.Opencom.dev ", name="  Auth Test Admin ", workspaceName=" Acme Support "
    )
    tables = await backend.dump()
    [user], [workspace], [membership] = tables["users"], tables["workspaces"], tables["workspaceMembers"]
    assert user["_id"] == account.user_id
    assert (user["email"], user["name"], user["role"]) == ("new.admin@test.opencom.dev", "Auth Test Admin", "admin")
    assert user["workspaceId"] == workspace["_id"]
    assert (workspace["name"], workspace["helpCenterAccessPolicy"]) == ("Acme Support", "public")
    assert workspace["createdAt"] == user["createdAt"] == membership["createdAt"]
    assert (membership["userId"], membership["workspaceId"], membership["role"]) == (
        user["_id"],
        workspace["_id"],
        "admin",
    )
    assert "permissions" not in membership
    [password_account] = tables["authAccounts"]
    assert (password_account["provider"], password_account["providerAccountId"]) == ("password", user["email"])
    assert password_account["userId"] == user["_id"] and PASSWORD not in password_account["secret"]

    current = await _call(backend, "auth:currentUser", as_=account)
    assert current == {
        "user": {
            "_id": user["_id"],
            "email": "new.admin@test.opencom.dev",
            "name": "Auth Test Admin",
            "workspaceId": workspace["_id"],
            "role": "admin",
        },
        "workspaces": [{**workspace, "role": "admin"}],
    }
    # The fresh admin can work in its workspace straight away.
    assert await _call(backend, "conversations:list", {"workspaceId": workspace["_id"]}, as_=account) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "Ada"}, "Ada's Workspace"),
        ({}, "solo's Workspace"),
        ({"name": "Ada", "workspaceName": "   "}, "Ada's Workspace"),
    ],
)
async def test_an_unnamed_workspace_is_named_after_its_owner(backend: Backend, params: dict[str, str], expected: str):
    account = await _sign_up(backend, "solo@test.opencom.dev", **params)
    [workspace] = (await _call(backend, "auth:currentUser", as_=account))["workspaces"]
    assert workspace["name"] == expected


async def test_signing_up_twice_fails_and_signing_in_reaches_the_same_user(backend: Backend):
    first = await _sign_up(backend, "twice@test.opencom.dev")
    again = await backend.run("auth:signIn", _password("signUp", "twice@test.opencom.dev"))
    assert again.error is not None
    signed_in = await _sign_in(backend, "signIn", "TWICE@test.opencom.dev")
    assert signed_in.user_id == first.user_id
    assert len((await backend.dump())["workspaces"]) == 1


async def test_sign_up_joins_the_workspaces_the_email_was_invited_to(backend: Backend, team: Team):
    invitation = await backend.insert(
        "workspaceInvitations",
        {
            "workspaceId": team.workspace_id,
            "email": "invited@test.opencom.dev",
            "role": "agent",
            "invitedBy": team.admin.user_id,
            "status": "pending",
            "createdAt": 1.0,
        },
    )
    account = await _sign_up(backend, "Invited@test.opencom.dev", name="Ivy")
    roles = {w["_id"]: w["role"] for w in await _call(backend, "auth:getUserWorkspaces", as_=account)}
    own = (await _call(backend, "auth:currentUser", as_=account))["user"]["workspaceId"]
    assert roles == {own: "admin", team.workspace_id: "agent"}
    assert (await backend.get(invitation))["status"] == "accepted"


async def test_signed_out_callers_get_null_and_empty_answers(backend: Backend, team: Team):
    assert await _call(backend, "auth:currentUser") is None
    assert await _call(backend, "auth:getUserWorkspaces") == []
    not_authenticated = {"code": "NOT_AUTHENTICATED", "message": "Not authenticated"}
    assert await _refusal(backend, "auth:switchWorkspace", {"workspaceId": team.workspace_id}) == not_authenticated
    assert await _refusal(backend, "auth:completeSignupProfile", {"name": "X"}) == not_authenticated


async def test_a_token_whose_user_was_deleted_is_nobody(backend: Backend, team: Team):
    account = await _sign_up(backend, "gone@test.opencom.dev")
    await backend.delete(account.user_id)
    assert await _call(backend, "auth:currentUser", as_=account) is None
    assert await _call(backend, "auth:getUserWorkspaces", as_=account) == []
    refusal = await _refusal(backend, "auth:switchWorkspace", {"workspaceId": team.workspace_id}, as_=account)
    assert refusal["message"] == "User not found"


async def test_workspaces_list_every_membership_and_hide_the_secret_from_non_admins(backend: Backend, team: Team):
    await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    agent = await _sign_up(backend, "agent@test.opencom.dev", name="Agent")
    await _join(backend, agent, team.workspace_id, "agent")
    listed = {w["_id"]: w for w in await _call(backend, "auth:getUserWorkspaces", as_=agent)}
    assert listed[team.workspace_id]["role"] == "agent"
    assert listed[team.workspace_id]["name"] == (await backend.get(team.workspace_id))["name"]
    assert "identitySecret" not in listed[team.workspace_id]
    assert (await _call(backend, "auth:currentUser", as_=agent))["workspaces"] == list(listed.values())

    admin = await _sign_up(backend, "second-admin@test.opencom.dev")
    await _join(backend, admin, team.workspace_id, "admin")
    [seen] = [w for w in await _call(backend, "auth:getUserWorkspaces", as_=admin) if w["_id"] == team.workspace_id]
    assert seen["identitySecret"] == (await backend.get(team.workspace_id))["identitySecret"]


async def test_switching_workspace_moves_the_agent_and_reports_its_role_there(backend: Backend, team: Team):
    agent = await _sign_up(backend, "mover@test.opencom.dev", name="Mover")
    own = (await _call(backend, "auth:currentUser", as_=agent))["user"]["workspaceId"]

    refusal = await _refusal(backend, "auth:switchWorkspace", {"workspaceId": team.workspace_id}, as_=agent)
    assert refusal == {"code": "NOT_WORKSPACE_MEMBER", "message": "You are not a member of this workspace"}
    assert (await backend.get(agent.user_id))["workspaceId"] == own

    await _join(backend, agent, team.workspace_id, "agent")
    switched = await _call(backend, "auth:switchWorkspace", {"workspaceId": team.workspace_id}, as_=agent)
    assert switched == {
        "user": {
            "_id": agent.user_id,
            "email": "mover@test.opencom.dev",
            "name": "Mover",
            "workspaceId": team.workspace_id,
            "role": "agent",
        }
    }
    current = (await _call(backend, "auth:currentUser", as_=agent))["user"]
    # The legacy user role stays as sign-up set it; the membership's role travels in the answer.
    assert (current["workspaceId"], current["role"]) == (team.workspace_id, "admin")
    assert (await _call(backend, "workspaces:getOrCreateDefault", as_=agent))["_id"] == team.workspace_id

    back = await _call(backend, "auth:switchWorkspace", {"workspaceId": own}, as_=agent)
    assert (back["user"]["workspaceId"], back["user"]["role"]) == (own, "admin")


async def test_completing_the_profile_fills_gaps_but_never_overwrites_choices(backend: Backend):
    account = await _sign_up(backend, "later@test.opencom.dev")
    workspace_id = (await _call(backend, "auth:currentUser", as_=account))["user"]["workspaceId"]
    assert (await backend.get(workspace_id))["name"] == "later's Workspace"

    done = await _call(
        backend, "auth:completeSignupProfile", {"name": " Lena ", "workspaceName": " Lena Co "}, as_=account
    )
    assert done == {"success": True, "userNameUpdated": True, "workspaceNameUpdated": True}
    assert (await backend.get(account.user_id))["name"] == "Lena"
    assert (await backend.get(workspace_id))["name"] == "Lena Co"

    again = await _call(
        backend, "auth:completeSignupProfile", {"name": "Other", "workspaceName": "Other Co"}, as_=account
    )
    assert again == {"success": True, "userNameUpdated": False, "workspaceNameUpdated": False}
    assert (await backend.get(account.user_id))["name"] == "Lena"
    assert (await backend.get(workspace_id))["name"] == "Lena Co"


async def test_a_workspace_named_after_its_owner_still_counts_as_unnamed(backend: Backend):
    account = await _sign_up(backend, "named@test.opencom.dev", name="Nia")
    workspace_id = (await _call(backend, "auth:currentUser", as_=account))["user"]["workspaceId"]
    same = await _call(backend, "auth:completeSignupProfile", {"workspaceName": "Nia's Workspace"}, as_=account)
    assert same["workspaceNameUpdated"] is False
    renamed = await _call(backend, "auth:completeSignupProfile", {"workspaceName": "Nia Labs"}, as_=account)
    assert renamed == {"success": True, "userNameUpdated": False, "workspaceNameUpdated": True}
    assert (await backend.get(workspace_id))["name"] == "Nia Labs"


async def test_only_owners_and_admins_rename_the_current_workspace(backend: Backend):
    owner = await _sign_up(backend, "boss@test.opencom.dev")
    agent = await _sign_up(backend, "helper@test.opencom.dev")
    workspace_id = (await _call(backend, "auth:currentUser", as_=owner))["user"]["workspaceId"]
    await _join(backend, agent, workspace_id, "agent")
    await _call(backend, "auth:switchWorkspace", {"workspaceId": workspace_id}, as_=agent)
    # "boss's Workspace" is a default name, but an agent may not rename it.
    result = await _call(backend, "auth:completeSignupProfile", {"workspaceName": "Hijacked"}, as_=agent)
    assert result["workspaceNameUpdated"] is False
    assert (await backend.get(workspace_id))["name"] == "boss's Workspace"


async def test_fix_user_email_is_internal(backend: Backend):
    account = await _sign_up(backend, "typo@test.opencom.dv")
    public = await _run(backend, "auth:fixUserEmail", {"userId": account.user_id, "newEmail": "x@y.z"}, as_=account)
    assert public.error is not None
    fixed = await backend.internal(
        "auth:fixUserEmail", {"userId": account.user_id, "newEmail": "typo@test.opencom.dev"}
    )
    assert fixed == {"success": True}
    assert (await _call(backend, "auth:currentUser", as_=account))["user"]["email"] == "typo@test.opencom.dev"


async def test_password_sign_up_never_lands_in_an_existing_user(backend: Backend, team: Team):
    """A user made by an emailed code (even a mere code request) keeps strangers out; only it adds a password."""
    await backend.executor.call("auth:signIn", {"provider": "resend-otp", "params": {"email": "otp@example.com"}})
    before = await backend.dump()
    for email in ("otp@example.com", team.admin.email):
        refused = await _refusal(backend, "auth:signIn", _password("signUp", email))
        assert refused == {"code": "AccountAlreadyExists", "message": "An account with this email already exists"}
        stranger = await _sign_up(backend, f"stranger-{email}")
        assert await _refusal(backend, "auth:signIn", _password("signUp", email), as_=stranger) == refused
    after = await backend.dump()
    assert [row for row in after["users"] if not row["email"].startswith("stranger-")] == before["users"]

    owner = team.admin
    identity = {**owner.identity, "subject": f"{owner.user_id}|session"}
    added = await backend.executor.call("auth:signIn", _password("signUp", owner.email), identity=identity)
    signed_in = await backend.executor.auth.verify(added["tokens"]["token"])
    assert signed_in["subject"].partition("|")[0] == owner.user_id
