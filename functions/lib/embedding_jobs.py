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


async def schedule_embedding(ctx: Any, article: Doc) -> None:
    """(Re)compute the article's embeddings after this mutation commits."""
    await ctx.scheduler.run_after(
        0,
        "embeddings:generateInternal",
        {
            "workspaceId": article["workspaceId"],
            "contentType": content_type(article),
            "contentId": article["_id"],
            "title": article["title"],
            "content": article["content"],
        },
    )


async def schedule_removal(ctx: Any, article: Doc) -> None:
    """Drop the article's embeddings after this mutation commits."""
    await ctx.scheduler.run_after(
        0, "embeddings:remove", {"contentType": content_type(article), "contentId": article["_id"]}
    )
