"""The AI agent answering a visitor: retrieve published knowledge, ask the LLM, answer or hand off.

``generateResponse`` is called by the widget with the visitor's session (or by an agent). It is
grounded: the model sees only the workspace's knowledge the vector search found (published
articles by default, see ``knowledgeSources``) and must say it cannot answer otherwise. It hands
the conversation to a human, never inventing an answer, when the agent is off, no LLM provider is
configured (``lib/llm_provider``), nothing relevant was found, the provider fails, the model
declines, or the best source's similarity is below the confidence threshold. A human reply or an
earlier hand-off silences the AI for the rest of the conversation. Answers (hand-offs included)
are rate-limited per workspace and per visitor (``lib/ai_rate_limits``).
"""

import time
from typing import Any

from runtime import action, internal_mutation, internal_query, v

from .lib.ai_answers import (
    AI_SENDER,
    NO_ANSWER,
    SOURCE_CONTENT_TYPES,
    grounding_prompt,
    hand_off,
    store_answer,
    stored_settings,
    with_defaults,
)
from .lib.ai_rate_limits import limits_from_env, spend_answer
from .lib.clock import now_ms
from .lib.conversation_access import conversation_for_reader
from .lib.errors import INVALID_INPUT, fail
from .lib.help_center import visitor_readable
from .lib.identity import Doc
from .lib.llm_provider import llm_from_env
from .lib.semantic_search import nearest_content
from .lib.threads import append_message

KNOWLEDGE_LIMIT = 5
HUMAN_SENDERS = ("agent", "user")
HUMAN_REPLY_SCAN = 200  # newest messages checked for an agent's reply
_ACCESS = {
    "conversationId": v.id("conversations"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}
_history = v.array(v.object({"role": v.union(v.literal("user"), v.literal("assistant")), "content": v.string()}))


async def _human_replied(ctx: Any, conversation_id: str) -> bool:
    """Whether one of the newest messages is an agent's (for threads from before ``firstResponseAt``)."""
    newest = await (
        ctx.db.query("messages")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation_id))
        .order("desc")
        .take(HUMAN_REPLY_SCAN)
    )
    return any(message["senderType"] in HUMAN_SENDERS for message in newest)


@internal_query(args={**_ACCESS, "workspaceId": v.id("workspaces")})
async def prepare(ctx, args):
    """Authorise the caller for the conversation; ``{settings, silenced}`` (why the AI must stay quiet, if so)."""
    conversation = await conversation_for_reader(
        ctx, args["conversationId"], args.get("sessionToken"), args.get("visitorId")
    )
    if conversation["workspaceId"] != args["workspaceId"]:
        fail(INVALID_INPUT, "Conversation does not belong to workspace")
    silenced = None
    if conversation.get("aiWorkflowState") == "handoff":
        silenced = "Conversation has already been handed off to a human agent"
    elif conversation.get("firstResponseAt") is not None or await _human_replied(ctx, conversation["_id"]):
        silenced = "A human agent has already responded in this conversation"
    return {"settings": with_defaults(await stored_settings(ctx, args["workspaceId"])), "silenced": silenced}


@internal_mutation(args={"conversationId": v.id("conversations")})
async def spendAnswer(ctx, args):
    """Spend one answer of the conversation's workspace and visitor allowances (RATE_LIMITED when none is left)."""
    conversation = await ctx.db.get(args["conversationId"])
    visitor = conversation.get("visitorId") or conversation["_id"]
    await spend_answer(ctx, conversation["workspaceId"], visitor, limits_from_env(ctx.env))


@internal_query(args={"workspaceId": v.id("workspaces"), "hits": v.array(v.any())})
async def groundingSources(ctx, args):
    """The hits whose content may ground a visitor answer, with their current text (published articles only)."""
    sources = []
    for hit in args["hits"]:
        table = "snippets" if hit["type"] == "snippet" else "articles"
        doc_id = ctx.db.normalize_id(table, hit["id"])
        doc = await ctx.db.get(doc_id) if doc_id else None
        if doc is None or doc["workspaceId"] != args["workspaceId"]:
            continue
        if table == "articles" and (
            doc["status"] != "published" or (hit["type"] == "article") != visitor_readable(doc)
        ):
            continue
        title = doc["name"] if table == "snippets" else doc["title"]
        sources.append({"type": hit["type"], "id": doc["_id"], "title": title, "content": doc["content"],
                        "score": hit["score"]})  # fmt: skip
    return sources


@internal_mutation(args={"conversationId": v.id("conversations"), "reason": v.string(), "answer": v.any()})
async def recordHandoff(ctx, args):
    """Hand the conversation to a human and store the outcome; ``{messageId, handoffMessage, responseId}``."""
    conversation = await ctx.db.get(args["conversationId"])
    handed = await hand_off(ctx, conversation, args["reason"])
    response_id = await store_answer(
        ctx,
        conversation,
        {**args["answer"], "messageId": handed["messageId"], "response": handed["handoffMessage"], "sources": [],
         "handedOff": True, "handoffReason": args["reason"]},
    )  # fmt: skip
    return {**handed, "responseId": response_id}


@internal_mutation(args={"conversationId": v.id("conversations"), "answer": v.any()})
async def recordAnswer(ctx, args):
    """Post the AI's answer as a bot message, store it with its sources, mark the conversation AI-handled."""
    conversation = await ctx.db.get(args["conversationId"])
    answer, now = args["answer"], now_ms()
    message_id = await append_message(
        ctx, conversation, sender_type="bot", sender_id=AI_SENDER, content=answer["response"]
    )
    response_id = await store_answer(ctx, conversation, {**answer, "messageId": message_id, "handedOff": False})
    await ctx.db.patch(
        conversation["_id"],
        {
            "aiWorkflowState": "ai_handled",
            "aiLastConfidence": answer["confidence"],
            "aiLastResponseAt": now,
            "updatedAt": now,
        },
    )
    return {"messageId": message_id, "responseId": response_id}


def _sources(found: list[Doc]) -> list[Doc]:
    return [
        {
            "type": s["type"],
            "id": s["id"],
            "title": s["title"],
            **({"articleId": s["id"]} if s["type"] == "article" else {}),
        }
        for s in found
    ]


async def _grounding(ctx: Any, args: Doc, settings: Doc) -> list[Doc]:
    types = {SOURCE_CONTENT_TYPES[source] for source in settings["knowledgeSources"]}
    hits = await nearest_content(ctx, args["workspaceId"], args["query"], KNOWLEDGE_LIMIT, types)
    return await ctx.run_query(groundingSources, {"workspaceId": args["workspaceId"], "hits": hits})


@action(
    args={
        **_ACCESS,
        "workspaceId": v.id("workspaces"),
        "query": v.string(),
        "conversationHistory": v.optional(_history),
    }
)
async def generateResponse(ctx, args):
    """``{response, confidence, sources, handoff, handoffReason, messageId}`` for the visitor's question."""
    started = time.monotonic()
    access = {key: args[key] for key in ("conversationId", "visitorId", "sessionToken") if key in args}
    prepared = await ctx.run_query(prepare, {**access, "workspaceId": args["workspaceId"]})
    settings = prepared["settings"]
    if prepared["silenced"]:
        return {"response": "", "confidence": 0.0, "sources": [], "handoff": True,
                "handoffReason": prepared["silenced"], "messageId": None}  # fmt: skip
    await ctx.run_mutation(spendAnswer, {"conversationId": args["conversationId"]})
    llm = llm_from_env(ctx.env)
    record = {"query": args["query"], "model": settings["model"], "provider": llm.label if llm else "none"}

    async def handoff(reason: str, confidence: float = 0.0, candidate: Doc | None = None) -> Doc:
        answer = {**record, "confidence": confidence, "generationTimeMs": (time.monotonic() - started) * 1000.0,
                  **(candidate or {})}  # fmt: skip
        handed = await ctx.run_mutation(
            recordHandoff, {"conversationId": args["conversationId"], "reason": reason, "answer": answer}
        )
        return {"response": handed["handoffMessage"], "confidence": confidence, "sources": [], "handoff": True,
                "handoffReason": reason, "messageId": handed["messageId"]}  # fmt: skip

    if not settings["enabled"]:
        return await handoff("AI Agent is disabled")
    if llm is None:
        return await handoff("No AI provider is configured")
    found = await _grounding(ctx, args, settings)
    if not found:
        return await handoff("No relevant knowledge found")
    confidence = max(0.0, min(1.0, max(source["score"] for source in found)))
    messages = [{"role": "system", "content": grounding_prompt(settings["personality"], found)},
                *(args.get("conversationHistory") or []), {"role": "user", "content": args["query"]}]  # fmt: skip
    try:
        completion = await llm.complete(llm.model_for(settings["model"]), messages)
    except Exception:  # noqa: BLE001 - any provider failure becomes a hand-off, never a made-up answer
        return await handoff("AI generation failed")
    sources = _sources(found)
    tokens = {"tokensUsed": completion.tokens_used} if completion.tokens_used is not None else {}
    if not completion.text or completion.text.strip() == NO_ANSWER:
        return await handoff("AI indicated handoff needed", confidence, {"sources": sources, **tokens})
    if confidence < settings["confidenceThreshold"]:
        candidate = {"generatedCandidateResponse": completion.text, "generatedCandidateSources": sources,
                     "generatedCandidateConfidence": confidence, **tokens}  # fmt: skip
        return await handoff("Low confidence response", confidence, candidate)
    answer = {**record, "response": completion.text, "sources": sources, "confidence": confidence,
              "generationTimeMs": (time.monotonic() - started) * 1000.0, **tokens}  # fmt: skip
    stored = await ctx.run_mutation(recordAnswer, {"conversationId": args["conversationId"], "answer": answer})
    return {"response": completion.text, "confidence": confidence, "sources": sources, "handoff": False,
            "handoffReason": None, "messageId": stored["messageId"]}  # fmt: skip
