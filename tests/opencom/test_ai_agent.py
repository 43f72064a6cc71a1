"""The AI agent: settings, hand-off without a provider, grounded answers from a scripted provider, feedback."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp import web
from opencom_backend import Backend, Team
from test_semantic_search import ARTICLES, run_embedding_jobs

from runtime.functions.environment import set_env

REFUND_ANSWER = "You can request a refund within 30 days of purchase."


class ScriptedLLM:
    """An OpenAI-compatible chat service on 127.0.0.1 that answers from the sources it is given."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: str | None = None  # a fixed reply; None answers from the prompt's sources

    async def completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        system = body["messages"][0]["content"]
        if self.reply is not None:
            text = self.reply
        elif "Refund policy" in system and "30 days" in system:
            text = REFUND_ANSWER
        else:
            text = "HANDOFF"
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": text}}],
                                  "usage": {"total_tokens": 42}})  # fmt: skip

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "scripted-1"}, {"id": "text-embedding-3-small"}]})


@pytest_asyncio.fixture
async def llm(backend: Backend, unused_tcp_port: int) -> AsyncIterator[ScriptedLLM]:
    scripted = ScriptedLLM()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", scripted.completions)
    app.router.add_get("/v1/models", scripted.models)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    await set_env(backend.executor.database, "LLM_BASE_URL", f"http://127.0.0.1:{unused_tcp_port}/v1")
    try:
        yield scripted
    finally:
        await runner.cleanup()


async def _knowledge(backend: Backend, team: Team) -> dict[str, str]:
    ids = {}
    for key, (title, content) in ARTICLES.items():
        ids[key] = await backend.call("articles:create", {"workspaceId": team.workspace_id, "title": title,
                                                          "content": content}, as_=team.admin)  # fmt: skip
        await backend.call("articles:publish", {"id": ids[key]}, as_=team.admin)
    await run_embedding_jobs(backend)
    return ids


async def _ask(backend: Backend, team: Team, question: str) -> tuple[dict, str, Any]:
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    args = {"workspaceId": team.workspace_id, "conversationId": conversation, "sessionToken": visitor.token,
            "query": question}  # fmt: skip
    return await backend.call("aiAgentActions:generateResponse", args), conversation, visitor


async def test_settings_have_defaults_and_need_settings_permission(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    assert (await backend.call("aiAgent:getSettings", ws, as_=team.admin))["enabled"] is False
    agent = await backend.add_member(team, "agent")
    await backend.refused("aiAgent:updateSettings", {**ws, "enabled": True}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("aiAgent:updateSettings", {**ws, "confidenceThreshold": 2.0}, as_=team.admin,
                          code="INVALID_INPUT")  # fmt: skip
    await backend.call("aiAgent:updateSettings", {**ws, "enabled": True, "personality": "warm"}, as_=team.admin)
    settings = await backend.call("aiAgent:getSettings", ws, as_=agent)
    assert (settings["enabled"], settings["personality"], settings["confidenceThreshold"]) == (True, "warm", 0.6)
    outsider = (await backend.seed_team()).admin
    assert (await backend.call("aiAgent:getSettings", ws, as_=outsider))["enabled"] is False
    models = await backend.call("aiAgent:listAvailableModels", ws, as_=team.admin)
    assert [m["id"] for m in models] == ["openai/gpt-5-nano"]
    await backend.refused("aiAgent:listAvailableModels", ws, as_=agent, code="PERMISSION_DENIED")


async def test_without_a_provider_it_hands_off_and_never_answers(backend: Backend, team: Team):
    await _knowledge(backend, team)
    await backend.call("aiAgent:updateSettings", {"workspaceId": team.workspace_id, "enabled": True}, as_=team.admin)
    result, conversation, visitor = await _ask(backend, team, "How do I get my money back?")
    assert (result["handoff"], result["handoffReason"]) == (True, "No AI provider is configured")
    assert result["response"] == "Let me connect you with a human agent who can help you better."
    row = await backend.get(conversation)
    assert row["aiWorkflowState"] == "handoff" and row["aiHandoffReason"] == "No AI provider is configured"
    [stored] = await backend.call("aiAgent:getConversationResponses", {"conversationId": conversation},
                                  as_=team.admin)  # fmt: skip
    assert stored["handedOff"] is True and stored["sources"] == [] and stored["provider"] == "none"
    # Once handed off, the AI stays quiet.
    again = await backend.call("aiAgentActions:generateResponse", {
        "workspaceId": team.workspace_id, "conversationId": conversation, "sessionToken": visitor.token, "query": "?"})
    assert again["messageId"] is None and again["handoff"] is True


async def test_a_scripted_provider_answers_from_the_articles_and_records_sources_and_feedback(
    backend: Backend, team: Team, llm: ScriptedLLM
):
    ids = await _knowledge(backend, team)
    settings = {"workspaceId": team.workspace_id, "enabled": True, "confidenceThreshold": 0.0}
    await backend.call("aiAgent:updateSettings", settings, as_=team.admin)
    result, conversation, visitor = await _ask(backend, team, "What is your refund policy?")
    assert (result["handoff"], result["response"]) == (False, REFUND_ANSWER)
    assert ids["refund"] in [source["id"] for source in result["sources"]]
    prompt = llm.requests[0]["messages"][0]["content"]
    assert "Request a refund within 30 days" in prompt and llm.requests[0]["messages"][-1]["content"] == (
        "What is your refund policy?"
    )
    assert llm.requests[0]["model"] == "gpt-5-nano"

    messages = await backend.call("messages:list", {"conversationId": conversation}, as_=team.admin)
    assert messages[-1]["content"] == REFUND_ANSWER and messages[-1]["senderType"] == "bot"
    [stored] = await backend.call("aiAgent:getConversationResponses", {"conversationId": conversation},
                                  as_=team.admin)  # fmt: skip
    assert stored["response"] == REFUND_ANSWER and stored["tokensUsed"] == 42 and not stored["handedOff"]
    assert {source["articleId"] for source in stored["sources"]} >= {ids["refund"]}
    assert (await backend.get(conversation))["aiWorkflowState"] == "ai_handled"
    feedback = {"responseId": stored["_id"], "feedback": "helpful", "sessionToken": visitor.token}
    await backend.call("aiAgent:submitFeedback", feedback)
    assert (await backend.get(stored["_id"]))["feedback"] == "helpful"
    report = await backend.call("reporting:getAiAgentMetrics", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert (report["totalResponses"], report["resolvedByAI"], report["satisfactionRate"]) == (1, 1, 1.0)

    models = await backend.call("aiAgent:listAvailableModels", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert [m["id"] for m in models] == ["scripted-1", "openai/gpt-5-nano"]


async def test_the_model_declining_or_a_low_similarity_hands_off_with_the_candidate(
    backend: Backend, team: Team, llm: ScriptedLLM
):
    await _knowledge(backend, team)
    await backend.call("aiAgent:updateSettings", {"workspaceId": team.workspace_id, "enabled": True,
                                                  "confidenceThreshold": 0.0}, as_=team.admin)  # fmt: skip
    llm.reply = "HANDOFF"
    declined, _, _ = await _ask(backend, team, "Do you sell gift cards?")
    assert (declined["handoff"], declined["handoffReason"]) == (True, "AI indicated handoff needed")
    llm.reply = "Maybe."
    await backend.call("aiAgent:updateSettings", {"workspaceId": team.workspace_id, "confidenceThreshold": 1.0},
                       as_=team.admin)  # fmt: skip
    low, conversation, _ = await _ask(backend, team, "What is your refund policy?")
    assert (low["handoff"], low["handoffReason"]) == (True, "Low confidence response")
    [stored] = await backend.call("aiAgent:getConversationResponses", {"conversationId": conversation},
                                  as_=team.admin)  # fmt: skip
    assert stored["generatedResponseContext"]["response"] == "Maybe." and stored["deliveredResponseContext"]["sources"] == []
    assert json.dumps(stored).count("Let me connect you") >= 1


async def test_answers_are_rate_limited_per_visitor_and_per_workspace(backend: Backend, team: Team):
    await set_env(backend.executor.database, "AI_ANSWERS_PER_VISITOR_PER_10_MIN", "2")
    await set_env(backend.executor.database, "AI_ANSWERS_PER_WORKSPACE_PER_HOUR", "3")
    visitor = await backend.boot(team.workspace_id)

    async def ask(asker) -> Any:
        conversation = await backend.visitor_conversation(asker)
        args = {"workspaceId": team.workspace_id, "conversationId": conversation, "sessionToken": asker.token, "query": "hi"}
        return await backend.run("aiAgentActions:generateResponse", args)

    for _ in range(2):
        assert (await ask(visitor)).value["handoffReason"] == "AI Agent is disabled"
    refused = await ask(visitor)
    assert refused.error.data == {"code": "RATE_LIMITED", "message": "Too many AI agent questions from this visitor; try again in 300 seconds"}
    answered = [m for m in (await backend.dump())["messages"] if m["senderId"] == "ai-agent"]
    assert len(answered) == 2  # the refused question got no hand-off message
    assert (await ask(await backend.boot(team.workspace_id))).value["handoff"] is True
    refused = await ask(await backend.boot(team.workspace_id))
    assert refused.error.data["code"] == "RATE_LIMITED" and "workspace" in refused.error.data["message"]
