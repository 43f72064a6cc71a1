"""Help-center collections: a tree of named sections that group articles.

Slugs are unique per workspace; a collection may move under any collection of its workspace that
is not itself or one of its descendants (so the tree never has a cycle); only an empty collection
(no child collections, no articles) may be deleted. Authoring needs ``articles.create``; reading
follows the help-center access policy (``lib/help_center``).
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.help_center import (
    WIDGET_VISITOR_ARGS,
    generate_slug,
    help_center_reader,
    unique_slug,
    visitor_readable,
    widget_visitor,
)
from .lib.identity import Doc, require_user
from .lib.permissions import require_permission

AUTHOR = "articles.create"


async def _collection(ctx: Any, collection_id: str) -> Doc:
    await require_user(ctx)
    collection = await ctx.db.get(collection_id)
    if collection is None:
        not_found("Collection")
    await require_permission(ctx, collection["workspaceId"], AUTHOR)
    return collection


async def _parent_in(ctx: Any, workspace_id: str, parent_id: str) -> Doc:
    parent = await ctx.db.get(parent_id)
    if parent is None or parent["workspaceId"] != workspace_id:
        fail(INVALID_INPUT, "Parent collection not found")
    return parent


async def _refuse_cycle(ctx: Any, collection: Doc, parent: Doc) -> None:
    """Walk up from the new parent: meeting the moved collection would close a loop."""
    cursor: Doc | None = parent
    seen: set[str] = set()
    while cursor is not None and cursor["_id"] not in seen:
        if cursor["_id"] == collection["_id"]:
            fail(INVALID_INPUT, "Collection cannot be moved into its own descendant")
        seen.add(cursor["_id"])
        parent_id = cursor.get("parentId")
        cursor = await ctx.db.get(parent_id) if parent_id is not None else None


def _key(parent_id: str | None) -> object:
    """A root collection has no ``parentId`` at all, which index ranges spell ``UNDEFINED``."""
    return parent_id if parent_id is not None else UNDEFINED


async def _children(ctx: Any, workspace_id: str, parent_id: str | None) -> list[Doc]:
    return (
        await ctx.db.query("collections")
        .with_index("by_parent", lambda q: q.eq("workspaceId", workspace_id).eq("parentId", _key(parent_id)))
        .collect()
    )


async def _workspace_collections(ctx: Any, workspace_id: str) -> list[Doc]:
    return (
        await ctx.db.query("collections")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .collect()
    )


async def _articles_in(ctx: Any, collection_id: str) -> list[Doc]:
    return (
        await ctx.db.query("articles")
        .with_index("by_collection", lambda q: q.eq("collectionId", collection_id))
        .collect()
    )


async def _with_counts(ctx: Any, collections: list[Doc]) -> list[Doc]:
    counted = []
    for collection in collections:
        articles = await _articles_in(ctx, collection["_id"])
        published = sum(1 for article in articles if visitor_readable(article))
        counted.append({**collection, "articleCount": float(len(articles)), "publishedArticleCount": float(published)})
    return sorted(counted, key=lambda c: c["order"])


async def _visible_collections(ctx: Any, workspace_id: str, collections: list[Doc], public_only: bool) -> list[Doc]:
    reader = await help_center_reader(ctx, workspace_id)
    if reader is None:
        return []
    counted = await _with_counts(ctx, collections)
    if reader.is_agent and not public_only:
        return counted
    return [c for c in counted if c["publishedArticleCount"] > 0]


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "description": v.optional(v.string()),
        "icon": v.optional(v.string()),
        "parentId": v.optional(v.id("collections")),
    }
)
async def create(ctx, args):
    """Create a collection at the end of its parent's children; returns its id."""
    await require_permission(ctx, args["workspaceId"], AUTHOR)
    parent_id = args.get("parentId")
    if parent_id is not None:
        await _parent_in(ctx, args["workspaceId"], parent_id)
    slug = await unique_slug(ctx, "collections", args["workspaceId"], generate_slug(args["name"], "collection"))
    siblings = await _children(ctx, args["workspaceId"], parent_id)
    now = now_ms()
    return await ctx.db.insert(
        "collections",
        {
            "workspaceId": args["workspaceId"],
            "name": args["name"],
            "slug": slug,
            "description": args.get("description", UNDEFINED),
            "icon": args.get("icon", UNDEFINED),
            "parentId": parent_id if parent_id is not None else UNDEFINED,
            "order": max((c["order"] for c in siblings), default=0.0) + 1,
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(
    args={
        "id": v.id("collections"),
        "name": v.optional(v.string()),
        "description": v.optional(v.string()),
        "icon": v.optional(v.string()),
        "parentId": v.optional(v.union(v.id("collections"), v.null())),
    }
)
async def update(ctx, args):
    """Rename (new slug), describe or move a collection (null parent: to the root); returns its id."""
    collection = await _collection(ctx, args["id"])
    changes: dict[str, Any] = {"updatedAt": now_ms()}
    if "name" in args and args["name"] != collection["name"]:
        changes["name"] = args["name"]
        base = generate_slug(args["name"], "collection")
        changes["slug"] = await unique_slug(
            ctx, "collections", collection["workspaceId"], base, exclude_id=collection["_id"]
        )
    for field in ("description", "icon"):
        if field in args:
            changes[field] = args[field]
    if "parentId" in args:
        parent_id = args["parentId"]
        if parent_id == collection["_id"]:
            fail(INVALID_INPUT, "Collection cannot be its own parent")
        if parent_id is not None:
            await _refuse_cycle(ctx, collection, await _parent_in(ctx, collection["workspaceId"], parent_id))
        changes["parentId"] = parent_id if parent_id is not None else UNDEFINED
    await ctx.db.patch(collection["_id"], changes)
    return collection["_id"]


@mutation(args={"id": v.id("collections")})
async def remove(ctx, args):
    """Delete an empty collection: ``{success: true}``."""
    collection = await _collection(ctx, args["id"])
    if await _children(ctx, collection["workspaceId"], collection["_id"]):
        fail(INVALID_INPUT, "Cannot delete collection with child collections")
    if await _articles_in(ctx, collection["_id"]):
        fail(INVALID_INPUT, "Cannot delete collection with articles")
    await ctx.db.delete(collection["_id"])
    return {"success": True}


@mutation(args={"id": v.id("collections"), "newOrder": v.number()})
async def reorder(ctx, args):
    """Set a collection's display position among its siblings; returns its id."""
    collection = await _collection(ctx, args["id"])
    await ctx.db.patch(collection["_id"], {"order": args["newOrder"], "updatedAt": now_ms()})
    return collection["_id"]


@query(
    args={
        "id": v.optional(v.id("collections")),
        "slug": v.optional(v.string()),
        "workspaceId": v.optional(v.id("workspaces")),
    }
)
async def get(ctx, args):
    """A collection by id, or by slug within ``workspaceId``, if the caller may read the help center."""
    collection = await ctx.db.get(args["id"]) if "id" in args else None
    workspace_id = collection["workspaceId"] if collection is not None else args.get("workspaceId")
    if workspace_id is None or await help_center_reader(ctx, workspace_id) is None:
        return None
    if collection is None and "id" not in args and args.get("slug"):
        collection = await (
            ctx.db.query("collections")
            .with_index("by_slug", lambda q: q.eq("workspaceId", workspace_id).eq("slug", args["slug"]))
            .first()
        )
    return collection


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "parentId": v.optional(v.id("collections")),
        "publicOnly": v.optional(v.boolean()),
    }
)
async def list_(ctx, args):
    """Children of ``parentId`` (root when absent) with article counts; the public sees non-empty ones."""
    children = await _children(ctx, args["workspaceId"], args.get("parentId"))
    return await _visible_collections(ctx, args["workspaceId"], children, bool(args.get("publicOnly")))


@query(args={"workspaceId": v.id("workspaces"), "publicOnly": v.optional(v.boolean())})
async def listHierarchy(ctx, args):
    """Every collection of the workspace (flat, each with its ``parentId``) with article counts."""
    everything = await _workspace_collections(ctx, args["workspaceId"])
    return await _visible_collections(ctx, args["workspaceId"], everything, bool(args.get("publicOnly")))


@query(args=WIDGET_VISITOR_ARGS)
async def listHierarchyForVisitor(ctx, args):
    """The collections holding articles the widget's visitor may read, with their ancestors."""
    visitor = await widget_visitor(ctx, args["workspaceId"], args.get("visitorId"), args.get("sessionToken"))
    if visitor is None:
        return []
    everything = await _workspace_collections(ctx, args["workspaceId"])
    by_id = {c["_id"]: c for c in everything}
    published = (
        await ctx.db.query("articles")
        .with_index("by_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "published"))
        .collect()
    )
    counts: dict[str, int] = {}
    for article in published:
        if visitor_readable(article) and article.get("collectionId") in by_id:
            counts[article["collectionId"]] = counts.get(article["collectionId"], 0) + 1
    shown: set[str] = set()
    for collection_id in counts:
        cursor: str | None = collection_id
        while cursor is not None and cursor in by_id and cursor not in shown:
            shown.add(cursor)
            cursor = by_id[cursor].get("parentId")
    rows = [
        {**c, "articleCount": float(counts.get(c["_id"], 0)), "publishedArticleCount": float(counts.get(c["_id"], 0))}
        for c in everything
        if c["_id"] in shown
    ]
    return sorted(rows, key=lambda c: c["order"])
