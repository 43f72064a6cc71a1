"""The agent's knowledge panel: semantic search over articles and snippets, and recently used content.

Everything here needs ``articles.read`` in the workspace; the recent-content list is per agent, so
an agent may record and read only its own.
"""

from typing import Any

from runtime import action, internal_query, mutation, query, v

from .lib.clock import now_ms
from .lib.errors import NOT_AUTHORIZED, fail
from .lib.identity import Doc
from .lib.permissions import require_permission
from .lib.semantic_search import nearest_content

READ = "articles.read"
SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 20, 50
RECENT_DEFAULT_LIMIT = 10
RECENT_KEPT = 50  # access rows kept per agent and workspace; older ones are pruned
content_type_validator = v.union(v.literal("article"), v.literal("internalArticle"), v.literal("snippet"))


async def knowledge_item(ctx: Any, workspace_id: str, content_type: str, content_id: str) -> Doc | None:
    """``{id, type, title, content, slug?, tags?}`` of a workspace's article or snippet, if it still exists."""
    table = "snippets" if content_type == "snippet" else "articles"
    doc_id = ctx.db.normalize_id(table, content_id)
    doc = await ctx.db.get(doc_id) if doc_id else None
    if doc is None or doc["workspaceId"] != workspace_id:
        return None
    if table == "snippets":
        return {"id": doc["_id"], "type": content_type, "title": doc["name"], "content": doc["content"]}
    if (doc.get("visibility") == "internal") != (content_type == "internalArticle"):
        return None
    item = {
        "id": doc["_id"],
        "type": content_type,
        "title": doc["title"],
        "content": doc["content"],
        "slug": doc["slug"],
    }
    return {**item, "tags": doc["tags"]} if "tags" in doc else item


@internal_query(args={"workspaceId": v.id("workspaces"), "hits": v.array(v.any())})
async def withContent(ctx, args):
    """Vector search hits with their content's current text (hits whose content is gone are dropped)."""
    enriched = []
    for hit in args["hits"]:
        item = await knowledge_item(ctx, args["workspaceId"], hit["type"], hit["id"])
        if item is not None:
            enriched.append({**hit, "content": item["content"], **({"slug": item["slug"]} if "slug" in item else {})})
    return enriched


@internal_query(args={"workspaceId": v.id("workspaces")})
async def requireReader(ctx, args):
    """Refuses callers without ``articles.read`` (actions check through this)."""
    await require_permission(ctx, args["workspaceId"], READ)


@action(
    args={
        "workspaceId": v.id("workspaces"),
        "query": v.string(),
        "contentTypes": v.optional(v.array(content_type_validator)),
        "limit": v.optional(v.number()),
    }
)
async def searchWithEmbeddings(ctx, args):
    """Articles and snippets closest in meaning to ``query``: ``{id, type, title, content, snippet, slug?, relevanceScore, updatedAt}``."""
    await ctx.run_query(requireReader, {"workspaceId": args["workspaceId"]})
    limit = max(1, min(int(args.get("limit") or SEARCH_DEFAULT_LIMIT), SEARCH_MAX_LIMIT))
    hits = await nearest_content(
        ctx, args["workspaceId"], args["query"], limit, set(args.get("contentTypes") or ()) or None
    )
    enriched = await ctx.run_query(withContent, {"workspaceId": args["workspaceId"], "hits": hits})
    return [
        {
            "id": hit["id"],
            "type": hit["type"],
            "title": hit["title"],
            "content": hit["content"],
            "snippet": hit["snippet"],
            **({"slug": hit["slug"]} if "slug" in hit else {}),
            "relevanceScore": hit["score"],
            "updatedAt": hit["updatedAt"],
        }
        for hit in enriched
    ]


async def _own_agent(ctx: Any, user_id: str, workspace_id: str, refusal: str) -> None:
    agent = await require_permission(ctx, workspace_id, READ)
    if agent.id != user_id:
        fail(NOT_AUTHORIZED, refusal)


async def _accesses(ctx: Any, user_id: str, workspace_id: str) -> list[Doc]:
    rows = await (
        ctx.db.query("recentContentAccess")
        .with_index("by_user_workspace", lambda q: q.eq("userId", user_id).eq("workspaceId", workspace_id))
        .collect()
    )
    return sorted(rows, key=lambda row: -row["accessedAt"])


@mutation(
    args={
        "userId": v.id("users"),
        "workspaceId": v.id("workspaces"),
        "contentType": content_type_validator,
        "contentId": v.string(),
    }
)
async def trackAccess(ctx, args):
    """Note that the agent opened this content now (keeping its latest 50); returns the access row id."""
    await _own_agent(ctx, args["userId"], args["workspaceId"], "Cannot track access for another user")
    now = now_ms()
    rows = await _accesses(ctx, args["userId"], args["workspaceId"])
    for row in rows:
        if row["contentType"] == args["contentType"] and row["contentId"] == args["contentId"]:
            await ctx.db.patch(row["_id"], {"accessedAt": now})
            return row["_id"]
    access_id = await ctx.db.insert(
        "recentContentAccess",
        {
            "userId": args["userId"],
            "workspaceId": args["workspaceId"],
            "contentType": args["contentType"],
            "contentId": args["contentId"],
            "accessedAt": now,
        },
    )
    for stale in rows[RECENT_KEPT - 1 :]:
        await ctx.db.delete(stale["_id"])
    return access_id


@query(args={"userId": v.id("users"), "workspaceId": v.id("workspaces"), "limit": v.optional(v.number())})
async def getRecentlyUsed(ctx, args):
    """The agent's most recently opened content that still exists, newest first, with ``accessedAt``."""
    await _own_agent(ctx, args["userId"], args["workspaceId"], "Cannot read recent content for another user")
    limit = int(args.get("limit") or RECENT_DEFAULT_LIMIT)
    results = []
    for row in (await _accesses(ctx, args["userId"], args["workspaceId"]))[:limit]:
        item = await knowledge_item(ctx, args["workspaceId"], row["contentType"], row["contentId"])
        if item is not None:
            results.append({**item, "accessedAt": row["accessedAt"]})
    return results
