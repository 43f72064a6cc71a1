"""The AI agent's widget functions: public settings, delivered answers, feedback and handoff."""

from opencom_backend import Backend, Team


async def _answer(backend: Backend, conversation: str, **fields) -> str:
    return await backend.insert(
        "aiResponses",
        {"conversationId": conversation, "query": "How do refunds work?", "response": "Within 5 days.",
         "sources": [{"type": "article", "id": "a1", "title": "Refunds"}], "confidence": 0.8, "handedOff": False,
         "generationTimeMs": 120.0, "model": "m", "provider": "p", "createdAt": 1.0, **fields},
    )  # fmt: skip


async def test_public_settings_default_to_off(backend: Backend, team: Team):
    settings = await backend.call("aiAgent:getPublicSettings", {"workspaceId": team.workspace_id})
    assert (settings["enabled"], settings["handoffMessage"], settings["personality"]) == (
        False, "Let me connect you with a human agent who can help you better.", None,
    )  # fmt: skip
    assert "lastConfigError" not in settings


async def test_delivered_answers_feedback_and_handoff(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    message = (await backend.call("messages:list", {"conversationId": conversation, "sessionToken": visitor.token}))[0]
    own = {"conversationId": conversation, "sessionToken": visitor.token}
    await _answer(backend, conversation)  # never delivered: no message
    delivered = await _answer(backend, conversation, messageId=message["_id"], generatedCandidateResponse="Draft")
    [answer] = await backend.call("aiAgent:getConversationResponses", own)
    assert answer["_id"] == delivered
    assert answer["deliveredResponseContext"]["confidence"] == 0.8
    assert answer["generatedResponseContext"] == {"response": "Draft", "sources": [], "confidence": 0.8}

    feedback = {"responseId": delivered, "feedback": "helpful", "sessionToken": visitor.token}
    await backend.call("aiAgent:submitFeedback", feedback)
    assert (await backend.get(delivered))["feedback"] == "helpful"
    stranger = await backend.boot(team.workspace_id)
    await backend.refused("aiAgent:submitFeedback", {**feedback, "sessionToken": stranger.token}, code="NOT_AUTHORIZED")

    handed = await backend.call("aiAgent:handoffToHuman", {**own, "reason": "asked for a human"})
    assert handed["handoffMessage"] == "Let me connect you with a human agent who can help you better."
    state = await backend.get(conversation)
    assert (state["aiWorkflowState"], state["aiHandoffReason"], state["unreadByAgent"]) == (
        "handoff", "asked for a human", 1,
    )  # fmt: skip
    last = (await backend.call("messages:list", own))[-1]
    assert (last["_id"], last["senderType"], last["senderId"]) == (handed["messageId"], "bot", "ai-agent")
