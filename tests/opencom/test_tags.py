"""Tags: authoring, unique names, tagging conversations, and the cascade on delete."""

from opencom_backend import Backend, Team


async def _tagged_conversation(backend: Backend, team: Team) -> tuple[str, str]:
    conversation = await backend.visitor_conversation(await backend.boot(team.workspace_id))
    tag = await backend.call(
        "tags:create", {"workspaceId": team.workspace_id, "name": "VIP", "color": "#f00"}, as_=team.admin
    )
    await backend.call("tags:addToConversation", {"conversationId": conversation, "tagId": tag}, as_=team.admin)
    return conversation, tag


async def test_tag_authoring(backend: Backend, team: Team):
    await backend.refused("tags:create", {"workspaceId": team.workspace_id, "name": "VIP"}, code="NOT_AUTHENTICATED")
    viewer = await backend.add_member(team, "viewer")
    denied = await backend.refused("tags:create", {"workspaceId": team.workspace_id, "name": "VIP"}, as_=viewer)
    assert denied["message"] == "Permission denied: checklists.manage"
    agent = await backend.add_member(team, "agent")
    vip = await backend.call("tags:create", {"workspaceId": team.workspace_id, "name": "VIP"}, as_=agent)
    bug = await backend.call("tags:create", {"workspaceId": team.workspace_id, "name": "bug"}, as_=agent)
    duplicate = await backend.refused(
        "tags:create", {"workspaceId": team.workspace_id, "name": "VIP"}, as_=agent, code="ALREADY_EXISTS"
    )
    assert duplicate["message"] == 'Tag "VIP" already exists'
    await backend.refused("tags:update", {"id": bug, "name": "VIP"}, as_=agent, code="ALREADY_EXISTS")
    assert await backend.call("tags:update", {"id": bug, "name": "Bug", "color": "#0f0"}, as_=agent) == bug
    assert (await backend.call("tags:get", {"id": bug}, as_=viewer))["name"] == "Bug"
    assert {tag["_id"] for tag in await backend.call("tags:list", {"workspaceId": team.workspace_id}, as_=viewer)} == {
        vip,
        bug,
    }
    assert await backend.call("tags:list", {"workspaceId": team.workspace_id}) == []
    assert await backend.call("tags:get", {"id": bug}) is None


async def test_tagging_is_idempotent_and_reported_with_who_and_when(backend: Backend, team: Team):
    conversation, tag = await _tagged_conversation(backend, team)
    again = await backend.call("tags:addToConversation", {"conversationId": conversation, "tagId": tag}, as_=team.admin)
    [link] = (await backend.dump())["conversationTags"]
    assert again == link["_id"]
    [shown] = await backend.call("tags:getConversationTags", {"conversationId": conversation}, as_=team.admin)
    assert (shown["_id"], shown["appliedBy"], shown["appliedByUserId"], shown["appliedAt"]) == (
        tag,
        "manual",
        team.admin.user_id,
        link["createdAt"],
    )
    assert await backend.call("tags:getConversationTags", {"conversationId": conversation}) == []
    await backend.call("tags:removeFromConversation", {"conversationId": conversation, "tagId": tag}, as_=team.admin)
    assert await backend.call("tags:getConversationTags", {"conversationId": conversation}, as_=team.admin) == []


async def test_tagging_refuses_foreign_tags_and_impersonation(backend: Backend, team: Team):
    conversation = await backend.visitor_conversation(await backend.boot(team.workspace_id))
    other = await backend.seed_team()
    foreign_tag = await backend.call("tags:create", {"workspaceId": other.workspace_id, "name": "x"}, as_=other.admin)
    await backend.internal(
        "users:addMembership", {"userId": other.admin.user_id, "workspaceId": team.workspace_id, "role": "admin"}
    )
    refused = await backend.refused(
        "tags:addToConversation", {"conversationId": conversation, "tagId": foreign_tag}, as_=other.admin
    )
    assert refused["message"] == "Tag and conversation belong to different workspaces"
    tag = await backend.call("tags:create", {"workspaceId": team.workspace_id, "name": "y"}, as_=team.admin)
    spoof = {"conversationId": conversation, "tagId": tag, "appliedByUserId": other.admin.user_id}
    assert (await backend.refused("tags:addToConversation", spoof, as_=team.admin))[
        "message"
    ] == "Cannot apply tag on behalf of another user"


async def test_removing_a_tag_cascades(backend: Backend, team: Team):
    _, tag = await _tagged_conversation(backend, team)
    await backend.insert(
        "autoTagRules",
        {
            "workspaceId": team.workspace_id,
            "name": "r",
            "enabled": True,
            "conditions": [],
            "tagId": tag,
            "createdAt": 1.0,
            "updatedAt": 1.0,
        },
    )
    await backend.refused("tags:remove", {"id": tag}, code="NOT_AUTHENTICATED")
    await backend.call("tags:remove", {"id": tag}, as_=team.admin)
    tables = await backend.dump()
    assert tables["tags"] == tables["conversationTags"] == tables["autoTagRules"] == []
    await backend.refused("tags:remove", {"id": tag}, as_=team.admin, code="NOT_FOUND")
