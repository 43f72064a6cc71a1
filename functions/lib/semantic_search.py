"""Nearest content to a text, through the ``contentEmbeddings.by_embedding`` vector index (actions only).

The query text is embedded by the same provider that embedded the content (so both live in one
vector space), the index is asked for ``OVERFETCH`` times the wanted hits (an article has several
chunks), and hits are folded to one per piece of content, best chunk first.
"""

from __future__ import annotations

from typing import Any

from .embedding_provider import provider_from_env

OVERFETCH = 8
MAX_VECTOR_LIMIT = 256  # Convex's largest vector search ``limit``


async def nearest_content(
    ctx: Any,
    workspace_id: str,
    text: str,
    limit: int,
    content_types: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` ``{id, type, title, snippet, score, updatedAt}``, most similar first."""
    provider = provider_from_env(ctx.env)
    [vector] = await provider.embed([text])
    hits = await ctx.vector_search(
        "contentEmbeddings",
        "by_embedding",
        {
            "vector": vector,
            "limit": min(limit * OVERFETCH, MAX_VECTOR_LIMIT),
            "filter": lambda q: q.eq("workspaceId", workspace_id),
        },
    )
    rows = await ctx.run_query("embeddings:getByIds", {"ids": [hit["_id"] for hit in hits]})
    results: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for hit, row in zip(hits, rows, strict=True):
        if row is None or (content_types and row["contentType"] not in content_types):
            continue
        key = (row["contentType"], row["contentId"])
        if key in seen:
            continue
        seen.add(key)
        results.append(
            {
                "id": row["contentId"],
                "type": row["contentType"],
                "title": row["title"],
                "snippet": row["snippet"],
                "score": hit["_score"],
                "updatedAt": row["updatedAt"],
            }
        )
        if len(results) >= limit:
            break
    return results
