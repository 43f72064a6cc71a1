"""Snippets: saved replies with unique shortcuts, for agents with ``snippets.manage``."""

from opencom_backend import Backend, Team


async def test_snippet_lifecycle(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent")
    ws = {"workspaceId": team.workspace_id}
    thanks = await backend.call(
        "snippets:create", {**ws, "name": "thanks", "content": "Thank you!", "shortcut": "ty"}, as_=agent
    )
    hello = await backend.call("snippets:create", {**ws, "name": "Hello", "content": "Hi there"}, as_=agent)
    assert (await backend.get(thanks))["createdBy"] == agent.user_id
    assert [s["name"] for s in await backend.call("snippets:list", ws, as_=agent)] == ["Hello", "thanks"]
    assert [s["_id"] for s in await backend.call("snippets:search", {**ws, "query": "THANK"}, as_=agent)] == [thanks]
    assert [s["_id"] for s in await backend.call("snippets:search", {**ws, "query": "there"}, as_=agent)] == [hello]
    assert (await backend.call("snippets:getByShortcut", {**ws, "shortcut": "ty"}, as_=agent))["_id"] == thanks
    assert await backend.call("snippets:getByShortcut", {**ws, "shortcut": "nope"}, as_=agent) is None

    taken = await backend.refused(
        "snippets:create", {**ws, "name": "x", "content": "y", "shortcut": "ty"}, as_=agent, code="ALREADY_EXISTS"
    )
    assert taken["message"] == "Shortcut already exists"
    await backend.refused("snippets:update", {"id": hello, "shortcut": "ty"}, as_=agent, code="ALREADY_EXISTS")
    assert (
        await backend.call("snippets:update", {"id": hello, "shortcut": "hi", "content": "Hello!"}, as_=agent) == hello
    )
    assert await backend.call("snippets:update", {"id": thanks, "shortcut": "ty"}, as_=agent) == thanks
    assert (await backend.call("snippets:get", {"id": hello}, as_=agent))["content"] == "Hello!"
    assert await backend.call("snippets:remove", {"id": hello}, as_=agent) == {"success": True}
    assert await backend.call("snippets:get", {"id": hello}, as_=agent) is None


async def test_snippets_refuse_anonymous_viewers_and_impersonation(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    for path, args in [
        ("snippets:list", ws),
        ("snippets:search", {**ws, "query": "x"}),
        ("snippets:create", {**ws, "name": "n", "content": "c"}),
    ]:
        assert (await backend.refused(path, args, code="NOT_AUTHENTICATED"))["message"] == "Not authenticated"
    viewer = await backend.add_member(team, "viewer")
    await backend.refused("snippets:list", ws, as_=viewer, code="PERMISSION_DENIED")
    outsider = (await backend.seed_team()).admin
    await backend.refused(
        "snippets:create", {**ws, "name": "n", "content": "c"}, as_=outsider, code="NOT_WORKSPACE_MEMBER"
    )
    spoof = {**ws, "name": "n", "content": "c", "createdBy": outsider.user_id}
    refused = await backend.refused("snippets:create", spoof, as_=team.admin, code="NOT_AUTHORIZED")
    assert refused["message"] == "Cannot create snippet on behalf of another user"


async def test_snippets_are_filed_in_folders_of_their_workspace(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    folder = await backend.call("contentFolders:create", {**ws, "name": "Billing"}, as_=team.admin)
    inner = await backend.call("contentFolders:create", {**ws, "name": "Refunds", "parentId": folder}, as_=team.admin)
    filed = await backend.call(
        "snippets:create", {**ws, "name": "Refund", "content": "Refunded.", "folderId": inner}, as_=team.admin
    )
    loose = await backend.call("snippets:create", {**ws, "name": "Hi", "content": "Hello"}, as_=team.admin)
    assert [s["_id"] for s in await backend.call("snippets:list", {**ws, "folderId": inner}, as_=team.admin)] == [filed]
    await backend.call("snippets:update", {"id": loose, "folderId": folder}, as_=team.admin)
    assert (await backend.get(loose))["folderId"] == folder
    await backend.call("snippets:update", {"id": loose, "folderId": None}, as_=team.admin)
    assert "folderId" not in await backend.get(loose)

    other = await backend.seed_team()
    foreign = await backend.call("contentFolders:create", {"workspaceId": other.workspace_id, "name": "X"},
                                 as_=other.admin)  # fmt: skip
    await backend.refused("snippets:update", {"id": loose, "folderId": foreign}, as_=team.admin, code="INVALID_INPUT")
    await backend.refused("contentFolders:update", {"id": folder, "parentId": inner}, as_=team.admin,
                          code="INVALID_INPUT")  # fmt: skip

    assert await backend.call("contentFolders:remove", {"id": inner}, as_=team.admin) == {"success": True}
    assert (await backend.get(filed))["folderId"] == folder
    assert [f["name"] for f in await backend.call("contentFolders:list", ws, as_=team.admin)] == ["Billing"]
    assert await backend.call("contentFolders:list", ws, as_=other.admin) == []
