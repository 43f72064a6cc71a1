"""Keeping semantic search in step with content: the jobs a content change schedules.

Both run after the scheduling mutation commits (and only if it does): ``embeddings:generateInternal``
embeds the text as it was; ``embeddings:remove`` drops the content's rows unless it is searchable
again by then.
"""

from typing import Any

from .identity import Doc


def content_type(article: Doc) -> str:
    """The ``contentEmbeddings.contentType`` an article is indexed under."""
    return "internalArticle" if article.get("visibility") == "internal" else "article"


async def _generate(ctx: Any, workspace_id: str, kind: str, content_id: str, title: str, content: str) -> None:
    job = {
        "workspaceId": workspace_id,
        "contentType": kind,
        "contentId": content_id,
        "title": title,
        "content": content,
    }
    await ctx.scheduler.run_after(0, "embeddings:generateInternal", job)


async def schedule_embedding(ctx: Any, article: Doc) -> None:
    """(Re)compute the article's embeddings after this mutation commits."""
    await _generate(
        ctx, article["workspaceId"], content_type(article), article["_id"], article["title"], article["content"]
    )


async def schedule_removal(ctx: Any, article: Doc) -> None:
    """Drop the article's embeddings after this mutation commits."""
    await ctx.scheduler.run_after(
        0, "embeddings:remove", {"contentType": content_type(article), "contentId": article["_id"]}
    )


async def schedule_snippet_embedding(ctx: Any, snippet: Doc) -> None:
    """(Re)compute a saved reply's embedding (snippets are searchable as soon as they exist)."""
    await _generate(ctx, snippet["workspaceId"], "snippet", snippet["_id"], snippet["name"], snippet["content"])


async def schedule_snippet_removal(ctx: Any, snippet_id: str) -> None:
    """Drop a deleted saved reply's embedding."""
    await ctx.scheduler.run_after(0, "embeddings:remove", {"contentType": "snippet", "contentId": snippet_id})
