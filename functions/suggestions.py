"""Article suggestions by meaning: for the widget's composer and for the agent's conversation panel.

Both search the vector index of published content (``lib/semantic_search``). The widget's search
needs a live session token of the workspace, an allowed origin and the workspace's
``suggestArticlesEnabled`` automation toggle, and only ever returns articles a visitor may read.
The agent's panel needs ``articles.read`` and the AI settings' ``suggestionsEnabled``, and is fed by
the conversation's last messages. Agents record which suggestions they used or dismissed.
"""

from typing import Any

from runtime import action, internal_query, mutation, v

from .lib.clock import now_ms
from .lib.conversation_access import may_read_conversation
from .lib.embedding_provider import provider_from_env
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.help_center import visitor_readable
from .lib.identity import require_user
from .lib.origins import origin_verdict
from .lib.permissions import require_permission
from .lib.semantic_search import nearest_content
from .lib.sessions import resolve_session

WIDGET_QUERY_MIN_LENGTH = 2
WIDGET_QUERY_MAX_LENGTH = 200
WIDGET_DEFAULT_LIMIT, WIDGET_MAX_LIMIT = 3, 5
PANEL_DEFAULT_LIMIT, PANEL_MAX_LIMIT = 5, 20
CONTEXT_MESSAGES = 5
SOURCE_TYPES = {"articles": "article", "internalArticles": "internalArticle", "snippets": "snippet"}
content_type_validator = v.union(v.literal("article"), v.literal("internalArticle"), v.literal("snippet"))


def _clamp(value: Any, default: int, maximum: int) -> int:
    return max(1, min(int(value or default), maximum))


@internal_query(
    args={
        "workspaceId": v.id("workspaces"),
        "visitorId": v.id("visitors"),
        "sessionToken": v.string(),
        "origin": v.string(),
    }
)
async def widgetSearchAllowed(ctx, args):
    """Whether the widget's caller may get suggestions now (refuses bad sessions and origins)."""
    await resolve_session(ctx, args["sessionToken"], args["workspaceId"], args["visitorId"])
    workspace = await ctx.db.get(args["workspaceId"])
    valid, reason = origin_verdict(workspace, args["origin"])
    if not valid:
        fail(NOT_AUTHORIZED, reason)
    settings = await (
        ctx.db.query("automationSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .first()
    )
    return bool(settings and settings["suggestArticlesEnabled"])


@internal_query(args={"ids": v.array(v.string())})
async def visitorReadableIds(ctx, args):
    """The subset of ``ids`` naming articles a widget visitor may read."""
    readable = []
    for raw in args["ids"]:
        article_id = ctx.db.normalize_id("articles", raw)
        article = await ctx.db.get(article_id) if article_id else None
        if article is not None and visitor_readable(article):
            readable.append(raw)
    return readable


@action(
    args={
        "workspaceId": v.id("workspaces"),
        "visitorId": v.id("visitors"),
        "sessionToken": v.string(),
        "origin": v.optional(v.string()),
        "query": v.string(),
        "limit": v.optional(v.number()),
    }
)
async def searchForWidget(ctx, args):
    """Up to ``limit`` (3, at most 5) ``{id, title, snippet, score}`` articles close to what the visitor types."""
    text = args["query"].strip().lower()
    if len(text) < WIDGET_QUERY_MIN_LENGTH:
        return []
    if len(text) > WIDGET_QUERY_MAX_LENGTH:
        fail(INVALID_INPUT, "Query exceeds max length")
    allowed = await ctx.run_query(
        widgetSearchAllowed,
        {key: args.get(key, "") for key in ("workspaceId", "visitorId", "sessionToken", "origin")},
    )
    if not allowed:
        return []
    limit = _clamp(args.get("limit"), WIDGET_DEFAULT_LIMIT, WIDGET_MAX_LIMIT)
    hits = await nearest_content(ctx, args["workspaceId"], text, limit * 2, {"article"})
    readable = set(await ctx.run_query(visitorReadableIds, {"ids": [hit["id"] for hit in hits]}))
    shown = [hit for hit in hits if hit["id"] in readable][:limit]
    return [{"id": h["id"], "title": h["title"], "snippet": h["snippet"], "score": h["score"]} for h in shown]


@internal_query(args={"conversationId": v.id("conversations")})
async def conversationContext(ctx, args):
    """For the agent's panel: ``{workspaceId, enabled, contentTypes, text}``, or null (no conversation)."""
    await require_user(ctx)
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        return None
    await require_permission(ctx, conversation["workspaceId"], "articles.read")
    if not await may_read_conversation(ctx, conversation, None):
        fail(NOT_AUTHORIZED, "Not authorized")
    settings = await (
        ctx.db.query("aiAgentSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", conversation["workspaceId"]))
        .first()
    )
    recent = await (
        ctx.db.query("messages")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .order("desc")
        .take(CONTEXT_MESSAGES)
    )
    sources = (settings or {}).get("knowledgeSources") or []
    return {
        "workspaceId": conversation["workspaceId"],
        "enabled": bool(settings and settings.get("suggestionsEnabled")),
        "contentTypes": sorted({SOURCE_TYPES[source] for source in sources if source in SOURCE_TYPES}),
        "text": "\n\n".join(message["content"] for message in reversed(recent)),
    }


@action(args={"conversationId": v.id("conversations"), "limit": v.optional(v.number())})
async def getForConversation(ctx, args):
    """Knowledge close to the conversation's last messages: ``{id, type, title, snippet, content, score, embeddingModel}``."""
    context = await ctx.run_query(conversationContext, {"conversationId": args["conversationId"]})
    if context is None or not context["enabled"] or not context["text"].strip():
        return []
    limit = _clamp(args.get("limit"), PANEL_DEFAULT_LIMIT, PANEL_MAX_LIMIT)
    hits = await nearest_content(
        ctx, context["workspaceId"], context["text"], limit, set(context["contentTypes"]) or None
    )
    enriched = await ctx.run_query("knowledge:withContent", {"workspaceId": context["workspaceId"], "hits": hits})
    model = provider_from_env(ctx.env).model
    return [
        {key: hit[key] for key in ("id", "type", "title", "snippet", "content", "score")} | {"embeddingModel": model}
        for hit in enriched
    ]


async def _track(ctx: Any, args: dict, action_name: str) -> str:
    agent = await require_permission(ctx, args["workspaceId"], "conversations.read")
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None or conversation["workspaceId"] != args["workspaceId"]:
        not_found("Conversation")
    return await ctx.db.insert(
        "suggestionFeedback",
        {
            "workspaceId": args["workspaceId"],
            "userId": agent.id,
            "conversationId": args["conversationId"],
            "contentType": args["contentType"],
            "contentId": args["contentId"],
            **({"embeddingModel": args["embeddingModel"]} if "embeddingModel" in args else {}),
            "action": action_name,
            "createdAt": now_ms(),
        },
    )


track_args = {
    "workspaceId": v.id("workspaces"),
    "conversationId": v.id("conversations"),
    "contentType": content_type_validator,
    "contentId": v.string(),
    "embeddingModel": v.optional(v.string()),
}


@mutation(args=track_args)
async def trackUsage(ctx, args):
    """Record that the agent inserted a suggestion; returns the feedback row id."""
    return await _track(ctx, args, "used")


@mutation(args=track_args)
async def trackDismissal(ctx, args):
    """Record that the agent dismissed a suggestion; returns the feedback row id."""
    return await _track(ctx, args, "dismissed")
