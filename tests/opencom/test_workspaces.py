"""Workspaces: member and public views, creation, default workspace, public context, origins."""

import pytest
from opencom_backend import Backend, Team

PUBLIC_KEYS = {"_id", "_creationTime", "name", "createdAt"}


async def test_members_see_the_workspace_others_a_public_subset(backend: Backend, team: Team):
    await backend.call("identityVerification:enable", {"workspaceId": team.workspace_id}, as_=team.admin)
    agent = await backend.add_member(team, "agent")
    outsider = (await backend.seed_team()).admin
    args = {"id": team.workspace_id}

    assert "identitySecret" in await backend.call("workspaces:get", args, as_=team.admin)
    as_agent = await backend.call("workspaces:get", args, as_=agent)
    assert as_agent["identityVerificationEnabled"] is True and "identitySecret" not in as_agent
    assert set(await backend.call("workspaces:get", args)) == PUBLIC_KEYS
    assert set(await backend.call("workspaces:get", args, as_=outsider)) == PUBLIC_KEYS


async def test_get_by_name_is_for_members_only(backend: Backend, team: Team):
    name = (await backend.get(team.workspace_id))["name"]
    outsider = (await backend.seed_team()).admin
    assert await backend.call("workspaces:getByName", {"name": name}) is None
    assert await backend.call("workspaces:getByName", {"name": name}, as_=outsider) is None
    assert (await backend.call("workspaces:getByName", {"name": name}, as_=team.admin))["_id"] == team.workspace_id


async def test_create_makes_the_caller_owner_and_reuses_an_existing_name(backend: Backend, team: Team):
    await backend.refused("workspaces:create", {"name": "Acme"}, code="NOT_AUTHENTICATED")
    acme = await backend.call("workspaces:create", {"name": "Acme"}, as_=team.admin)
    assert (await backend.call("workspaces:get", {"id": acme}, as_=team.admin))["name"] == "Acme"
    owner = [m for m in (await backend.dump())["workspaceMembers"] if m["workspaceId"] == acme]
    assert [(m["userId"], m["role"]) for m in owner] == [(team.admin.user_id, "owner")]

    other = (await backend.seed_team()).admin
    assert await backend.call("workspaces:create", {"name": "Acme"}, as_=other) == acme
    assert await backend.call("workspaces:getByName", {"name": "Acme"}, as_=other) is None
    logs = await backend.call("auditLogs:list", {"workspaceId": acme}, as_=team.admin)
    assert [(log["action"], log["metadata"]["operation"]) for log in logs] == [
        ("workspace.settings.changed", "create_workspace")
    ]


async def test_get_or_create_default_returns_the_current_workspace_while_a_member(backend: Backend, team: Team):
    current = await backend.call("workspaces:getOrCreateDefault", {}, as_=team.admin)
    assert current["_id"] == team.workspace_id

    membership = next(m for m in (await backend.dump())["workspaceMembers"] if m["userId"] == team.admin.user_id)
    await backend.patch(membership["_id"], {"workspaceId": (await backend.seed_team()).workspace_id})
    fresh = await backend.call("workspaces:getOrCreateDefault", {}, as_=team.admin)
    assert fresh["_id"] != team.workspace_id and fresh["name"] == "Default Workspace"


async def _article(backend: Backend, workspace_id: str, slug: str, **fields) -> str:
    return await backend.insert(
        "articles",
        {
            "workspaceId": workspace_id,
            "title": slug,
            "slug": slug,
            "content": "",
            "status": "published",
            "order": 1.0,
            "createdAt": 1.0,
            "updatedAt": 1.0,
            **fields,
        },
    )


async def test_public_workspace_context(backend: Backend, team: Team):
    second = await backend.seed_team("Second")
    third = await backend.seed_team("Third")
    context = "workspaces:getPublicWorkspaceContext"
    first = await backend.call(context, {})
    assert first == {
        "_id": team.workspace_id,
        "name": (await backend.get(team.workspace_id))["name"],
        "helpCenterAccessPolicy": "public",
    }

    await _article(backend, second.workspace_id, "hello")
    await _article(backend, third.workspace_id, "hello", visibility="internal")
    assert (await backend.call(context, {}))["_id"] == second.workspace_id
    assert (await backend.call(context, {"articleSlug": "hello"}))["_id"] == second.workspace_id
    await _article(backend, team.workspace_id, "hello")
    assert (await backend.call(context, {"articleSlug": "hello"}))["_id"] == team.workspace_id  # ambiguous: fallback
    assert (await backend.call(context, {"workspaceId": third.workspace_id}))["name"] == "Third"


@pytest.mark.parametrize(
    ("allowed", "origin", "valid"),
    [
        (["https://example.com", "https://app.example.com"], "https://example.com", True),
        (["https://example.com", "https://app.example.com"], "https://malicious.com", False),
        (["*.example.com"], "https://app.example.com", True),
        (["*.example.com"], "https://other.com", False),
        ([], "not-a-valid-origin", True),
        (["https://myapp.com:8080"], "https://myapp.com:8080", True),
        (["https://myapp.com:8080"], "https://myapp.com:3000", False),
        (["https://app.mysite.com"], "https://other.mysite.com", False),
        (["https://Example.com/path"], "https://example.COM", True),
        (["https://example.com"], "ftp://example.com", False),
    ],
)
async def test_validate_origin(backend: Backend, team: Team, allowed: list[str], origin: str, valid: bool):
    await backend.call(
        "workspaces:updateAllowedOrigins", {"workspaceId": team.workspace_id, "allowedOrigins": allowed}, as_=team.admin
    )
    verdict = await backend.call("workspaces:validateOrigin", {"workspaceId": team.workspace_id, "origin": origin})
    assert verdict["valid"] is valid


async def test_updating_allowed_origins_needs_security_settings_and_is_audited(backend: Backend, team: Team):
    args = {"workspaceId": team.workspace_id, "allowedOrigins": ["https://a.com", "https://b.com"]}
    await backend.refused("workspaces:updateAllowedOrigins", args, code="NOT_AUTHENTICATED")
    agent = await backend.add_member(team, "agent")
    await backend.refused("workspaces:updateAllowedOrigins", args, as_=agent, code="PERMISSION_DENIED")
    await backend.call("workspaces:updateAllowedOrigins", args, as_=team.admin)
    [log] = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "workspace.security.changed"}, as_=team.admin
    )
    assert log["metadata"] == {"setting": "allowedOrigins", "valueCount": 2.0}
    gone = await backend.missing_id("workspaces", {"name": "gone", "createdAt": 1.0})
    verdict = await backend.call("workspaces:validateOrigin", {"workspaceId": gone, "origin": "https://a.com"})
    assert verdict == {"valid": False, "reason": "Workspace not found"}
    assert await backend.call("workspaces:get", {"id": gone}) is None
