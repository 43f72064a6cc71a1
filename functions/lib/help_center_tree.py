"""Placing imported collections and articles in a workspace's help center, and archiving removed ones.

An imported item remembers its source (``importSourceId``) and its path in the source folder
(``importPath``); that pair is how a later import or a restore finds it again. New items go last
among their siblings, with a slug no other item of the workspace holds. What an import removes is
first copied into ``helpCenterImportArchives`` under the import run's id, so ``restoreRun`` can
bring it back.
"""

from typing import Any

from runtime import UNDEFINED

from .embedding_jobs import schedule_embedding, schedule_removal
from .help_center import generate_slug, unique_slug
from .identity import Doc
from .markdown_files import parent_path


def match_text(text: str) -> str:
    """A name as compared when adopting existing items: case, punctuation and spacing ignored."""
    return " ".join("".join(ch if ch.isalnum() and ch.isascii() else " " for ch in text.lower()).split())


async def _last_order(ctx: Any, query: Any) -> float:
    return max([row["order"] async for row in query], default=0.0)


async def insert_collection(
    ctx: Any, workspace_id: str, source_id: str, path: str, name: str, parent_id: str | None, now: float, **extra: Any
) -> str:
    """A new imported collection at ``path`` under ``parent_id`` (None: the top level); returns its id."""
    parent = parent_id if parent_id is not None else UNDEFINED
    siblings = ctx.db.query("collections").with_index(
        "by_parent", lambda q: q.eq("workspaceId", workspace_id).eq("parentId", parent)
    )
    return await ctx.db.insert(
        "collections",
        {
            "workspaceId": workspace_id,
            "name": name,
            "slug": await unique_slug(ctx, "collections", workspace_id, generate_slug(name, "collection")),
            "parentId": parent,
            "order": await _last_order(ctx, siblings) + 1,
            "importSourceId": source_id,
            "importPath": path,
            "createdAt": now,
            "updatedAt": now,
            **{field: value for field, value in extra.items() if value is not None},
        },
    )


async def insert_article(
    ctx: Any,
    workspace_id: str,
    source_id: str,
    path: str,
    fields: dict,
    collection_id: str | None,
    now: float,
    *,
    slug: str,
) -> str:
    """A new imported article (``fields``: title, content, status); schedules its embedding when published."""
    in_collection = collection_id if collection_id is not None else UNDEFINED
    siblings = ctx.db.query("articles").with_index("by_collection", lambda q: q.eq("collectionId", in_collection))
    last = max([row["order"] async for row in siblings if row["workspaceId"] == workspace_id], default=0.0)
    article = {
        "workspaceId": workspace_id,
        "collectionId": in_collection,
        **fields,
        "slug": await unique_slug(ctx, "articles", workspace_id, slug),
        "widgetLargeScreen": False,
        "visibility": "public",
        "order": last + 1,
        "importSourceId": source_id,
        "importPath": path,
        "createdAt": now,
        "updatedAt": now,
        "publishedAt": now if fields["status"] == "published" else UNDEFINED,
    }
    article_id = await ctx.db.insert("articles", article)
    if fields["status"] == "published":
        await schedule_embedding(ctx, {**article, "_id": article_id})
    return article_id


async def update_article(ctx: Any, article: Doc, changes: dict) -> None:
    """Apply an import's or a restore's changes and keep semantic search in step."""
    await ctx.db.patch(article["_id"], changes)
    updated = {**article, **changes}
    if updated["status"] == "published":
        await schedule_embedding(ctx, updated)
    elif article["status"] == "published":
        await schedule_removal(ctx, updated)


async def archive_and_delete(ctx: Any, source_id: str, run_id: str, item: Doc, kind: str, now: float) -> None:
    """Copy a removed article or collection into the run's archive, then delete it."""
    entry = {
        "workspaceId": item["workspaceId"],
        "sourceId": source_id,
        "importRunId": run_id,
        "entityType": kind,
        "importPath": item["importPath"],
        "parentPath": parent_path(item["importPath"]) or UNDEFINED,
        "deletedAt": now,
    }
    if kind == "article":
        # The folder it sat in, which front matter may have chosen apart from the file's own path.
        home = await ctx.db.get(item["collectionId"]) if "collectionId" in item else None
        entry["parentPath"] = home.get("importPath", UNDEFINED) if home is not None else UNDEFINED
        entry.update(name=item["title"], content=item["content"], status=item["status"])
        await schedule_removal(ctx, item)
    else:
        entry.update(
            name=item["name"], description=item.get("description", UNDEFINED), icon=item.get("icon", UNDEFINED)
        )
    await ctx.db.insert("helpCenterImportArchives", entry)
    await ctx.db.delete(item["_id"])
