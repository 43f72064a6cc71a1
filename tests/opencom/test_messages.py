"""Messages: who may post as whom, and what posting does to the conversation."""

from opencom_backend import Backend, Team, Visitor


def _visitor_message(visitor: Visitor, conversation: str, content: str = "Hi") -> dict:
    return {
        "conversationId": conversation,
        "content": content,
        "senderType": "visitor",
        "senderId": visitor.visitor_id,
        "sessionToken": visitor.token,
    }


async def test_messages_update_the_conversation_and_list_in_order(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    await backend.call("conversations:updateStatus", {"id": conversation, "status": "closed"}, as_=team.admin)
    before = await backend.get(conversation)
    await backend.call("messages:send", _visitor_message(visitor, conversation, "question"))
    after_visitor = await backend.get(conversation)
    assert after_visitor["unreadByAgent"] == 1.0 and after_visitor["lastMessageAt"] >= before["lastMessageAt"]
    assert after_visitor["status"] == "closed"

    await backend.patch(team.admin.user_id, {"name": "  Grace  "})
    agent_message = {
        "conversationId": conversation,
        "content": "answer",
        "senderType": "agent",
        "senderId": team.admin.user_id,
    }
    await backend.call("messages:send", agent_message, as_=team.admin)
    assert (await backend.get(conversation))["unreadByVisitor"] == 1.0
    listed = await backend.call("messages:list", {"conversationId": conversation, "sessionToken": visitor.token})
    assert [m["content"] for m in listed][1:] == ["question", "answer"]
    assert listed[2]["senderName"] == "Grace" and "senderName" not in listed[1]


async def test_nobody_posts_as_the_bot_but_server_code(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    bot = {"conversationId": conversation, "content": "x", "senderType": "bot", "senderId": "system"}
    refused = await backend.refused("messages:send", bot, as_=team.admin, code="NOT_AUTHORIZED")
    assert refused["message"] == "Not authorized: bot messages can only be sent by internal system callers"
    public = await backend.run("messages:internalSendBotMessage", {"conversationId": conversation, "content": "x"})
    assert public.error is not None
    message_id = await backend.internal(
        "messages:internalSendBotMessage",
        {"conversationId": conversation, "content": "AI says hi", "senderId": "ai-agent"},
    )
    message = await backend.get(message_id)
    assert (message["senderType"], message["senderId"]) == ("bot", "ai-agent")
    assert (await backend.get(conversation))["unreadByVisitor"] == 1.0


async def test_visitors_post_only_in_their_own_conversations(backend: Backend, team: Team):
    owner, other = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(owner)
    as_other = {**_visitor_message(other, conversation), "senderId": other.visitor_id}
    refused = await backend.refused("messages:send", as_other, code="NOT_AUTHORIZED")
    assert refused["message"] == "Not authorized to send messages to this conversation"
    bare = {key: value for key, value in _visitor_message(owner, conversation).items() if key != "sessionToken"}
    assert (await backend.refused("messages:send", {**bare, "visitorId": owner.visitor_id}))[
        "message"
    ] == "Session token required"


async def test_sender_ids_cannot_be_forged(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    agent = await backend.add_member(team, "agent")
    forged = {"conversationId": conversation, "content": "x", "senderType": "agent", "senderId": team.admin.user_id}
    await backend.refused("messages:send", forged, as_=agent, code="NOT_AUTHORIZED")
    await backend.refused(
        "messages:send", {**_visitor_message(visitor, conversation), "senderId": "someone"}, code="NOT_AUTHORIZED"
    )
    legacy = {"conversationId": conversation, "content": "x", "senderType": "user", "senderId": agent.user_id}
    await backend.refused("messages:send", legacy, code="NOT_AUTHENTICATED")
    await backend.call("messages:send", legacy, as_=agent)
    assert (await backend.get(conversation)).get("unreadByVisitor", 0.0) == 0.0


async def test_list_is_empty_for_strangers(backend: Backend, team: Team):
    owner, other = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(owner)
    assert await backend.call("messages:list", {"conversationId": conversation}) == []
    assert await backend.call("messages:list", {"conversationId": conversation, "visitorId": owner.visitor_id}) == []
    assert await backend.call("messages:list", {"conversationId": conversation, "sessionToken": other.token}) == []
    viewer = await backend.add_member(team, "viewer")
    assert len(await backend.call("messages:list", {"conversationId": conversation}, as_=viewer)) == 1
    await backend.refused(
        "messages:send",
        {"conversationId": conversation, "content": "x", "senderType": "agent", "senderId": viewer.user_id},
        as_=viewer,
        code="PERMISSION_DENIED",
    )
