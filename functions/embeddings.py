"""Embeddings of published content, kept in ``contentEmbeddings`` for the vector index.

``generateInternal`` is the scheduled action the article mutations enqueue: it splits the text into
chunks, embeds them with the deployment's provider (``lib/embedding_provider``) and hands the vectors
to ``replaceForContent``, which swaps them in atomically, but only if the content is still published
with the same text. A publish and an unpublish racing each other thus never leave stale vectors.
The one public function, ``backfillExisting``, is the articles screen's "backfill" button.
"""

from typing import Any

from runtime import action, internal_action, internal_mutation, internal_query, v

from .lib.clock import now_ms
from .lib.embedding_jobs import content_type, schedule_embedding, schedule_snippet_embedding
from .lib.embedding_provider import provider_from_env
from .lib.embedding_text import snippet_of, split_into_chunks, text_hash
from .lib.identity import Doc
from .lib.permissions import require_permission

content_type_validator = v.union(v.literal("article"), v.literal("internalArticle"), v.literal("snippet"))
MAX_BACKFILL_ITEMS = 1000  # pieces of content one backfillExisting call embeds


async def _rows_for(ctx: Any, content_type: str, content_id: str) -> list[Doc]:
    return (
        await ctx.db.query("contentEmbeddings")
        .with_index("by_content", lambda q: q.eq("contentType", content_type).eq("contentId", content_id))
        .collect()
    )


async def current_source(ctx: Any, content_type: str, content_id: str) -> Doc | None:
    """``{workspaceId, title, content}`` of content that should be searchable now, else None."""
    if content_type == "snippet":
        snippet_id = ctx.db.normalize_id("snippets", content_id)
        snippet = await ctx.db.get(snippet_id) if snippet_id else None
        if snippet is None:
            return None
        return {"workspaceId": snippet["workspaceId"], "title": snippet["name"], "content": snippet["content"]}
    article_id = ctx.db.normalize_id("articles", content_id)
    article = await ctx.db.get(article_id) if article_id else None
    if article is None or article["status"] != "published":
        return None
    if (article.get("visibility") == "internal") != (content_type == "internalArticle"):
        return None
    return {"workspaceId": article["workspaceId"], "title": article["title"], "content": article["content"]}


@internal_query(args={"contentType": content_type_validator, "contentId": v.string()})
async def listByContent(ctx, args):
    """The embedding rows (chunks) of one piece of content."""
    return await _rows_for(ctx, args["contentType"], args["contentId"])


@internal_query(args={"ids": v.array(v.id("contentEmbeddings"))})
async def getByIds(ctx, args):
    """The embedding rows of vector search hits, in order (null for rows deleted since)."""
    return [await ctx.db.get(row_id) for row_id in args["ids"]]


@internal_mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "contentType": content_type_validator,
        "contentId": v.string(),
        "title": v.string(),
        "model": v.string(),
        "textHash": v.string(),
        "chunks": v.array(v.object({"embedding": v.array(v.float64()), "snippet": v.string()})),
    }
)
async def replaceForContent(ctx, args):
    """Swap in new chunk embeddings if the content is still published as embedded; ``{stored}``."""
    source = await current_source(ctx, args["contentType"], args["contentId"])
    if source is None or source["workspaceId"] != args["workspaceId"]:
        return {"stored": False}
    if text_hash(args["model"], source["title"], source["content"]) != args["textHash"]:
        return {"stored": False}  # edited since: the job the edit scheduled embeds the new text
    for row in await _rows_for(ctx, args["contentType"], args["contentId"]):
        await ctx.db.delete(row["_id"])
    now = now_ms()
    for chunk in args["chunks"]:
        await ctx.db.insert(
            "contentEmbeddings",
            {
                "workspaceId": args["workspaceId"],
                "contentType": args["contentType"],
                "contentId": args["contentId"],
                "embedding": chunk["embedding"],
                "textHash": args["textHash"],
                "title": args["title"],
                "snippet": chunk["snippet"],
                "createdAt": now,
                "updatedAt": now,
            },
        )
    return {"stored": True}


@internal_mutation(args={"contentType": content_type_validator, "contentId": v.string()})
async def remove(ctx, args):
    """Drop every embedding of the content unless it is (again) searchable; ``{removed}``."""
    if await current_source(ctx, args["contentType"], args["contentId"]) is not None:
        return {"removed": 0.0}
    rows = await _rows_for(ctx, args["contentType"], args["contentId"])
    for row in rows:
        await ctx.db.delete(row["_id"])
    return {"removed": float(len(rows))}


_CONTENT_ARGS = {
    "workspaceId": v.id("workspaces"),
    "contentType": content_type_validator,
    "contentId": v.string(),
    "title": v.string(),
    "content": v.string(),
}


async def _embed(ctx: Any, item: dict) -> dict:
    """Embed one piece of content's chunks unless model and text are unchanged; ``{stored, skipped}``."""
    provider = provider_from_env(ctx.env)
    digest = text_hash(provider.model, item["title"], item["content"])
    chunks = split_into_chunks(item["content"])
    existing = await ctx.run_query(listByContent, {"contentType": item["contentType"], "contentId": item["contentId"]})
    if existing and len(existing) == len(chunks) and all(row["textHash"] == digest for row in existing):
        return {"stored": False, "skipped": True}
    vectors = await provider.embed([f"{item['title']}\n\n{chunk}" for chunk in chunks])
    stored = await ctx.run_mutation(
        replaceForContent,
        {
            **{field: item[field] for field in ("workspaceId", "contentType", "contentId", "title")},
            "model": provider.model,
            "textHash": digest,
            "chunks": [
                {"embedding": vector, "snippet": snippet_of(chunk)}
                for vector, chunk in zip(vectors, chunks, strict=True)
            ],
        },
    )
    return {**stored, "skipped": False}


@internal_action(args=_CONTENT_ARGS)
async def generateInternal(ctx, args):
    """Embed the content's chunks (skipped when model and text are unchanged); ``{stored, skipped}``."""
    return await _embed(ctx, args)


@internal_mutation(args={"workspaceId": v.optional(v.id("workspaces"))})
async def backfill(ctx, args):
    """Schedule embedding of every published article and every snippet (of one workspace, or all).

    Run after switching provider or model (``opencom run --admin embeddings:backfill``): content
    whose embeddings already come from the current model and text is skipped by the job itself.
    """
    scheduled = 0
    for table in ("articles", "snippets"):
        rows = (
            ctx.db.query(table).with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
            if "workspaceId" in args
            else ctx.db.query(table)
        )
        async for row in rows:
            if table == "snippets":
                await schedule_snippet_embedding(ctx, row)
            elif row["status"] == "published":
                await schedule_embedding(ctx, row)
            else:
                continue
            scheduled += 1
    return {"scheduled": float(scheduled)}


@internal_query(args={"workspaceId": v.id("workspaces"), "contentTypes": v.array(content_type_validator)})
async def backfillCandidates(ctx, args):
    """The searchable content of the given types (``articles.publish`` required), at most ``MAX_BACKFILL_ITEMS``."""
    workspace_id, types = args["workspaceId"], args["contentTypes"]
    await require_permission(ctx, workspace_id, "articles.publish")
    items = []
    if {"article", "internalArticle"} & set(types):
        published = ctx.db.query("articles").with_index(
            "by_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", "published")
        )
        for article in await published.take(MAX_BACKFILL_ITEMS):
            if content_type(article) in types:
                fields = {"title": article["title"], "content": article["content"]}
                items.append({"contentType": content_type(article), "contentId": article["_id"], **fields})
    if "snippet" in types:
        snippets = ctx.db.query("snippets").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        for snippet in await snippets.take(MAX_BACKFILL_ITEMS):
            fields = {"title": snippet["name"], "content": snippet["content"]}
            items.append({"contentType": "snippet", "contentId": snippet["_id"], **fields})
    return [{"workspaceId": workspace_id, **item} for item in items[:MAX_BACKFILL_ITEMS]]


@action(
    args={
        "workspaceId": v.id("workspaces"),
        "contentTypes": v.optional(v.array(content_type_validator)),
        "batchSize": v.optional(v.number()),
        "model": v.optional(v.string()),
    }
)
async def backfillExisting(ctx, args):
    """Embed the workspace's searchable content now (the articles screen's button): ``{total, processed, skipped}``.

    Content already embedded from the same model and text is skipped. The deployment's provider
    decides the model (``model`` and ``batchSize`` are accepted and ignored).
    """
    types = args.get("contentTypes") or ["article", "internalArticle", "snippet"]
    items = await ctx.run_query(backfillCandidates, {"workspaceId": args["workspaceId"], "contentTypes": types})
    skipped = 0
    for item in items:
        skipped += 1 if (await _embed(ctx, item))["skipped"] else 0
    return {"total": float(len(items)), "processed": float(len(items) - skipped), "skipped": float(skipped)}
