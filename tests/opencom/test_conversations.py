"""Conversations: the agent inbox and a visitor's own threads."""

from opencom_backend import Backend, Team


async def _agent_reply(backend: Backend, team: Team, conversation_id: str, content: str = "Hello") -> str:
    args = {
        "conversationId": conversation_id,
        "content": content,
        "senderType": "agent",
        "senderId": team.admin.user_id,
    }
    return await backend.call("messages:send", args, as_=team.admin)


async def test_list_is_newest_first_and_filters_by_status(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    first, second = await backend.visitor_conversation(visitor), await backend.visitor_conversation(visitor)
    await backend.call("conversations:updateStatus", {"id": first, "status": "snoozed"}, as_=team.admin)
    listed = await backend.call("conversations:list", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert [row["_id"] for row in listed] == [second, first]
    snoozed = await backend.call(
        "conversations:list", {"workspaceId": team.workspace_id, "status": "snoozed"}, as_=team.admin
    )
    assert [row["_id"] for row in snoozed] == [first]
    assert await backend.call("conversations:list", {"workspaceId": team.workspace_id}) == []


async def test_agent_create_validates_who_the_conversation_is_with(backend: Backend, team: Team):
    await backend.refused("conversations:create", {"workspaceId": team.workspace_id}, code="NOT_AUTHENTICATED")
    created = await backend.get(
        await backend.call("conversations:create", {"workspaceId": team.workspace_id}, as_=team.admin)
    )
    assert (created["status"], created["aiWorkflowState"]) == ("open", "none") and "lastMessageAt" not in created
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    args = {"workspaceId": team.workspace_id, "visitorId": foreign.visitor_id}
    assert (await backend.refused("conversations:create", args, as_=team.admin))[
        "message"
    ] == "Visitor not found in workspace"


async def test_visitor_conversations_start_with_the_welcome_message(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.call(
        "conversations:createForVisitor", {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    )
    assert conversation["visitorId"] == visitor.visitor_id and conversation["status"] == "open"
    [welcome] = await backend.call(
        "messages:list", {"conversationId": conversation["_id"], "sessionToken": visitor.token}
    )
    assert welcome["senderType"] == "bot" and "How can we help" in welcome["content"]
    assert "unreadByVisitor" not in conversation


async def test_get_or_create_returns_the_open_conversation(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    args = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    first = await backend.call("conversations:getOrCreateForVisitor", args)
    assert (await backend.call("conversations:getOrCreateForVisitor", args))["_id"] == first["_id"]
    await backend.call("conversations:updateStatus", {"id": first["_id"], "status": "closed"}, as_=team.admin)
    assert (await backend.call("conversations:getOrCreateForVisitor", args))["_id"] != first["_id"]


async def test_a_token_only_works_in_its_own_workspace(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.seed_team()
    for path in ("conversations:createForVisitor", "conversations:getOrCreateForVisitor"):
        refused = await backend.refused(
            path, {"workspaceId": other.workspace_id, "sessionToken": visitor.token}, code="NOT_AUTHORIZED"
        )
        assert refused["message"] == "Session token does not match workspace"


async def test_get_needs_the_owning_session_or_an_agent(backend: Backend, team: Team):
    owner, other = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(owner)
    assert (await backend.call("conversations:get", {"id": conversation, "sessionToken": owner.token}))[
        "_id"
    ] == conversation
    assert (await backend.call("conversations:get", {"id": conversation}, as_=team.admin))["_id"] == conversation
    assert await backend.call("conversations:get", {"id": conversation, "sessionToken": other.token}) is None
    assert await backend.call("conversations:get", {"id": conversation, "visitorId": owner.visitor_id}) is None


async def test_status_changes_stamp_resolution_and_are_audited(backend: Backend, team: Team):
    conversation = await backend.visitor_conversation(await backend.boot(team.workspace_id))
    gone = await backend.missing_id(
        "conversations", {"workspaceId": team.workspace_id, "status": "open", "createdAt": 1.0, "updatedAt": 1.0}
    )
    await backend.refused("conversations:updateStatus", {"id": gone, "status": "closed"}, code="NOT_AUTHENTICATED")
    await backend.refused(
        "conversations:updateStatus", {"id": gone, "status": "closed"}, as_=team.admin, code="NOT_FOUND"
    )
    viewer = await backend.add_member(team, "viewer")
    denied = await backend.refused("conversations:updateStatus", {"id": conversation, "status": "closed"}, as_=viewer)
    assert denied["message"] == "Permission denied: conversations.close"

    await backend.call("conversations:updateStatus", {"id": conversation, "status": "closed"}, as_=team.admin)
    assert "resolvedAt" in await backend.get(conversation)
    await backend.call("conversations:updateStatus", {"id": conversation, "status": "snoozed"}, as_=team.admin)
    assert "resolvedAt" in await backend.get(conversation)
    await backend.call("conversations:updateStatus", {"id": conversation, "status": "open"}, as_=team.admin)
    assert "resolvedAt" not in await backend.get(conversation)
    logs = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "conversation.status.changed"}, as_=team.admin
    )
    assert [(log["metadata"]["previousStatus"], log["metadata"]["newStatus"]) for log in reversed(logs)] == [
        ("open", "closed"),
        ("closed", "snoozed"),
        ("snoozed", "open"),
    ]


async def test_assign_only_to_members_and_audited(backend: Backend, team: Team):
    conversation = await backend.visitor_conversation(await backend.boot(team.workspace_id))
    agent = await backend.add_member(team, "agent")
    outsider = (await backend.seed_team()).admin
    refused = await backend.refused(
        "conversations:assign", {"id": conversation, "agentId": outsider.user_id}, as_=team.admin
    )
    assert refused == {"code": "INVALID_INPUT", "message": "Assignee is not a member of this workspace"}
    await backend.call("conversations:assign", {"id": conversation, "agentId": agent.user_id}, as_=agent)
    assert (await backend.get(conversation))["assignedAgentId"] == agent.user_id
    [log] = await backend.call(
        "auditLogs:list", {"workspaceId": team.workspace_id, "action": "conversation.assigned"}, as_=team.admin
    )
    assert (log["actorId"], log["metadata"]) == (agent.user_id, {"previousAgentId": None, "agentId": agent.user_id})


async def test_mark_as_read_clears_the_reader_side(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    await _agent_reply(backend, team, conversation)
    await backend.call(
        "messages:send",
        {
            "conversationId": conversation,
            "content": "hi",
            "senderType": "visitor",
            "senderId": visitor.visitor_id,
            "sessionToken": visitor.token,
        },
    )
    state = await backend.get(conversation)
    assert (state["unreadByVisitor"], state["unreadByAgent"]) == (1.0, 1.0)

    refused = await backend.refused(
        "conversations:markAsRead", {"id": conversation, "readerType": "visitor"}, code="NOT_AUTHENTICATED"
    )
    assert refused["message"] == "Session token required"
    await backend.call(
        "conversations:markAsRead", {"id": conversation, "readerType": "visitor", "sessionToken": visitor.token}
    )
    assert (await backend.get(conversation))["unreadByVisitor"] == 0.0
    await backend.refused(
        "conversations:markAsRead", {"id": conversation, "readerType": "agent"}, code="NOT_AUTHENTICATED"
    )
    await backend.call("conversations:markAsRead", {"id": conversation, "readerType": "agent"}, as_=team.admin)
    assert (await backend.get(conversation))["unreadByAgent"] == 0.0


async def test_visitor_listing_and_unread_total(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    older, newer = await backend.visitor_conversation(visitor), await backend.visitor_conversation(visitor)
    await backend.call("conversations:updateStatus", {"id": newer, "status": "closed"}, as_=team.admin)
    await _agent_reply(backend, team, older, "latest words")
    args = {"sessionToken": visitor.token, "workspaceId": team.workspace_id}
    listed = await backend.call("conversations:listByVisitor", args)
    assert [row["_id"] for row in listed] == [older, newer]
    assert listed[0]["lastMessage"]["content"] == "latest words"
    await _agent_reply(backend, team, newer)
    assert await backend.call("conversations:getTotalUnreadForVisitor", args) == 2.0
    assert await backend.call("conversations:listByVisitor", {"workspaceId": team.workspace_id}) == []
    assert await backend.call("conversations:getTotalUnreadForVisitor", {"sessionToken": visitor.token}) == 0.0
    bad = {"sessionToken": "wst_test_invalid_token", "workspaceId": team.workspace_id}
    assert (await backend.refused("conversations:listByVisitor", bad))["message"] == "Invalid session token"
