"""Full-text article search on the ``articles`` search indexes: title hits first, then body hits.

Convex search indexes cover one field each, so the title and the content have an index apiece.
Each returns its matches in BM25 order (a term matches a whole word, the last term also a word
prefix); an article matching in its title ranks above one matching only in its content.
"""

from __future__ import annotations

from typing import Any

from .identity import Doc

# How many matches each index may contribute before the caller's own filters run.
CANDIDATES_PER_INDEX = 200
SEARCHED_FIELDS = (("search_title", "title"), ("search_content", "content"))


async def search_articles(ctx: Any, workspace_id: str, text: str, status: str | None = None) -> list[Doc]:
    """Articles of the workspace matching ``text`` (optionally only those in ``status``), best first."""
    found: dict[str, Doc] = {}
    for index, field in SEARCHED_FIELDS:

        def build(q: Any, field: str = field) -> Any:
            q = q.search(field, text).eq("workspaceId", workspace_id)
            return q.eq("status", status) if status is not None else q

        for article in await ctx.db.query("articles").with_search_index(index, build).take(CANDIDATES_PER_INDEX):
            found.setdefault(article["_id"], article)
    return list(found.values())
