"""Help-center articles: authoring (draft → published → archived), reading, search and feedback.

Agents author with ``articles.create`` (images too: ``lib/article_assets``) / ``articles.publish``
/ ``articles.delete`` and read with ``articles.read``; the public and widget visitors read
published public articles (see ``lib/help_center`` for the access policy). Publishing, or
changing a published article's text,
schedules ``embeddings:generateInternal``; unpublishing, archiving and deleting schedule
``embeddings:remove``, so semantic search only ever finds what is published.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.article_assets import described, referencing_titles, rendered, save_asset
from .lib.article_search import search_articles
from .lib.clock import now_ms
from .lib.embedding_jobs import content_type, schedule_embedding, schedule_removal
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.help_center import (
    WIDGET_VISITOR_ARGS,
    Reader,
    generate_slug,
    help_center_reader,
    unique_slug,
    visitor_readable,
    widget_visitor,
)
from .lib.identity import Doc, require_user
from .lib.permissions import require_permission
from .lib.sessions import resolve_session

SEARCH_LIMIT = 20
status_validator = v.union(v.literal("draft"), v.literal("published"), v.literal("archived"))
visibility_validator = v.union(v.literal("public"), v.literal("internal"))


async def _article(ctx: Any, article_id: str, permission: str) -> Doc:
    await require_user(ctx)
    article = await ctx.db.get(article_id)
    if article is None:
        not_found("Article")
    await require_permission(ctx, article["workspaceId"], permission)
    return article


async def _check_collection(ctx: Any, workspace_id: str, collection_id: str | None) -> None:
    if collection_id is None:
        return
    collection = await ctx.db.get(collection_id)
    if collection is None or collection["workspaceId"] != workspace_id:
        not_found("Collection")


def _check_audience_rules(rules: Any) -> None:
    if not isinstance(rules, dict) or rules.get("type") not in ("condition", "group"):
        fail(INVALID_INPUT, "Invalid audience rules")


def _visible_to(reader: Reader, article: Doc) -> bool:
    return reader.is_agent or visitor_readable(article)


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "title": v.string(),
        "content": v.string(),
        "collectionId": v.optional(v.id("collections")),
        "visibility": v.optional(visibility_validator),
        "tags": v.optional(v.array(v.string())),
        "authorId": v.optional(v.id("users")),
    }
)
async def create(ctx, args):
    """Create a draft article at the end of its collection; returns its id."""
    agent = await require_permission(ctx, args["workspaceId"], "articles.create")
    if args.get("authorId", agent.id) != agent.id:
        fail(NOT_AUTHORIZED, "Cannot create an article on behalf of another user")
    collection_id = args.get("collectionId")
    await _check_collection(ctx, args["workspaceId"], collection_id)
    slug = await unique_slug(ctx, "articles", args["workspaceId"], generate_slug(args["title"], "article"))
    in_collection = collection_id if collection_id is not None else UNDEFINED  # root articles lack the field
    siblings = (
        await ctx.db.query("articles")
        .with_index("by_collection", lambda q: q.eq("collectionId", in_collection))
        .collect()
    )
    last = max((a["order"] for a in siblings if a["workspaceId"] == args["workspaceId"]), default=0.0)
    now = now_ms()
    return await ctx.db.insert(
        "articles",
        {
            "workspaceId": args["workspaceId"],
            "collectionId": collection_id if collection_id is not None else UNDEFINED,
            "title": args["title"],
            "slug": slug,
            "content": args["content"],
            "widgetLargeScreen": False,
            "visibility": args.get("visibility", "public"),
            "status": "draft",
            "order": last + 1,
            "createdAt": now,
            "updatedAt": now,
            "tags": args.get("tags", UNDEFINED),
            "authorId": agent.id,
        },
    )


@mutation(
    args={
        "id": v.id("articles"),
        "title": v.optional(v.string()),
        "content": v.optional(v.string()),
        "widgetLargeScreen": v.optional(v.boolean()),
        "collectionId": v.optional(v.union(v.id("collections"), v.null())),
        "visibility": v.optional(visibility_validator),
        "tags": v.optional(v.array(v.string())),
        "audienceRules": v.optional(v.any()),
    }
)
async def update(ctx, args):
    """Change an article's fields (a new title gets a new slug; a null collection moves it to the root)."""
    article = await _article(ctx, args["id"], "articles.create")
    changes: dict[str, Any] = {"updatedAt": now_ms()}
    if "title" in args and args["title"] != article["title"]:
        changes["title"] = args["title"]
        base = generate_slug(args["title"], "article")
        changes["slug"] = await unique_slug(ctx, "articles", article["workspaceId"], base, exclude_id=article["_id"])
    for field in ("content", "widgetLargeScreen", "visibility", "tags"):
        if field in args:
            changes[field] = args[field]
    if "collectionId" in args:
        await _check_collection(ctx, article["workspaceId"], args["collectionId"])
        changes["collectionId"] = args["collectionId"] if args["collectionId"] is not None else UNDEFINED
    if "audienceRules" in args:
        _check_audience_rules(args["audienceRules"])
        changes["audienceRules"] = args["audienceRules"]
    elif args.get("visibility") == "internal":
        changes["audienceRules"] = UNDEFINED
    await ctx.db.patch(article["_id"], changes)
    updated = {**article, **{k: val for k, val in changes.items() if val is not UNDEFINED}}
    if article["status"] == "published":
        if content_type(updated) != content_type(article):
            await schedule_removal(ctx, article)
        if any(field in args for field in ("title", "content", "visibility")):
            await schedule_embedding(ctx, updated)
    return article["_id"]


@mutation(args={"id": v.id("articles")})
async def remove(ctx, args):
    """Delete an article and its embeddings: ``{success: true}``."""
    article = await _article(ctx, args["id"], "articles.delete")
    await ctx.db.delete(article["_id"])
    await schedule_removal(ctx, article)
    return {"success": True}


async def _set_status(ctx: Any, article_id: str, status: str) -> str:
    article = await _article(ctx, article_id, "articles.publish")
    now = now_ms()
    changes: dict[str, Any] = {"status": status, "updatedAt": now}
    if status == "published":
        changes["publishedAt"] = now
    elif status == "draft":
        changes["publishedAt"] = UNDEFINED
    await ctx.db.patch(article["_id"], changes)
    if status == "published":
        await schedule_embedding(ctx, article)
    else:
        await schedule_removal(ctx, article)
    return article["_id"]


@mutation(args={"id": v.id("articles")})
async def publish(ctx, args):
    """Publish an article (and index it for semantic search); returns its id."""
    return await _set_status(ctx, args["id"], "published")


@mutation(args={"id": v.id("articles")})
async def unpublish(ctx, args):
    """Return an article to draft (and drop it from semantic search); returns its id."""
    return await _set_status(ctx, args["id"], "draft")


@mutation(args={"id": v.id("articles")})
async def archive(ctx, args):
    """Archive an article (kept for agents, hidden everywhere else); returns its id."""
    return await _set_status(ctx, args["id"], "archived")


@query(
    args={
        "id": v.optional(v.id("articles")),
        "slug": v.optional(v.string()),
        "workspaceId": v.optional(v.id("workspaces")),
        "visibility": v.optional(visibility_validator),
    }
)
async def get(ctx, args):
    """An article by id, or by slug within ``workspaceId``, if the caller may read it; else null."""
    article = await ctx.db.get(args["id"]) if "id" in args else None
    workspace_id = article["workspaceId"] if article is not None else args.get("workspaceId")
    if workspace_id is None:
        return None
    reader = await help_center_reader(ctx, workspace_id)
    if reader is None:
        return None
    if article is None and "id" not in args and args.get("slug"):
        article = await (
            ctx.db.query("articles")
            .with_index("by_slug", lambda q: q.eq("workspaceId", workspace_id).eq("slug", args["slug"]))
            .first()
        )
    if article is None or not _visible_to(reader, article):
        return None
    if "visibility" in args and article.get("visibility", "public") != args["visibility"]:
        return None
    return await rendered(ctx, article)


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "status": v.optional(status_validator),
        "collectionId": v.optional(v.id("collections")),
        "visibility": v.optional(visibility_validator),
    }
)
async def list_(ctx, args):
    """The workspace's articles: agents see all (latest edit first), the public its readable ones by order."""
    reader = await help_center_reader(ctx, args["workspaceId"])
    if reader is None:
        return []
    articles = (
        await ctx.db.query("articles")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .collect()
    )
    articles = [
        a
        for a in articles
        if _visible_to(reader, a)
        and ("collectionId" not in args or a.get("collectionId") == args["collectionId"])
        and ("status" not in args or a["status"] == args["status"])
        and ("visibility" not in args or a.get("visibility", "public") == args["visibility"])
    ]
    if reader.is_agent:
        return sorted(articles, key=lambda a: (-a["updatedAt"], a["title"]))
    return sorted(articles, key=lambda a: a["order"])


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "query": v.string(),
        "publishedOnly": v.optional(v.boolean()),
        "visibility": v.optional(visibility_validator),
    }
)
async def search(ctx, args):
    """Up to 20 articles matching ``query`` in title or content, most relevant first."""
    reader = await help_center_reader(ctx, args["workspaceId"])
    if reader is None:
        return []
    published_only = args.get("publishedOnly") or not reader.is_agent
    matches = await search_articles(ctx, args["workspaceId"], args["query"], "published" if published_only else None)
    return [
        a
        for a in matches
        if _visible_to(reader, a) and ("visibility" not in args or a.get("visibility", "public") == args["visibility"])
    ][:SEARCH_LIMIT]


@mutation(
    args={
        "articleId": v.id("articles"),
        "helpful": v.boolean(),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
    }
)
async def submitFeedback(ctx, args):
    """Record whether a readable article helped; a named visitor must be proven by its session token."""
    article = await ctx.db.get(args["articleId"])
    if article is None:
        not_found("Article")
    visitor_id = None
    if "visitorId" in args or "sessionToken" in args:
        session = await resolve_session(ctx, args.get("sessionToken"), article["workspaceId"], args.get("visitorId"))
        visitor_id = session["visitorId"]
        readable = visitor_readable(article)
    else:
        reader = await help_center_reader(ctx, article["workspaceId"])
        readable = reader is not None and _visible_to(reader, article)
    if not readable:
        fail(NOT_AUTHORIZED, "Not authorized to give feedback on this article")
    return await ctx.db.insert(
        "articleFeedback",
        {
            "articleId": article["_id"],
            "helpful": args["helpful"],
            "visitorId": visitor_id if visitor_id is not None else UNDEFINED,
            "createdAt": now_ms(),
        },
    )


@query(args={"articleId": v.id("articles")})
async def getFeedbackStats(ctx, args):
    """``{helpful, notHelpful, total}`` for an article the caller may read; zeros otherwise."""
    article = await ctx.db.get(args["articleId"])
    reader = await help_center_reader(ctx, article["workspaceId"]) if article is not None else None
    if reader is None or not _visible_to(reader, article):
        return {"helpful": 0.0, "notHelpful": 0.0, "total": 0.0}
    feedback = (
        await ctx.db.query("articleFeedback")
        .with_index("by_article", lambda q: q.eq("articleId", article["_id"]))
        .collect()
    )
    helpful = sum(1 for row in feedback if row["helpful"])
    return {"helpful": float(helpful), "notHelpful": float(len(feedback) - helpful), "total": float(len(feedback))}


@query(args={**WIDGET_VISITOR_ARGS, "collectionId": v.optional(v.id("collections"))})
async def listForVisitor(ctx, args):
    """The published public articles the widget's visitor may read, by display order."""
    visitor = await widget_visitor(ctx, args["workspaceId"], args.get("visitorId"), args.get("sessionToken"))
    if visitor is None:
        return []
    published = (
        await ctx.db.query("articles")
        .with_index("by_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "published"))
        .collect()
    )
    articles = [
        a
        for a in published
        if visitor_readable(a) and ("collectionId" not in args or a.get("collectionId") == args["collectionId"])
    ]
    return [await rendered(ctx, a) for a in sorted(articles, key=lambda a: a["order"])]


@query(args={**WIDGET_VISITOR_ARGS, "query": v.string()})
async def searchForVisitor(ctx, args):
    """Up to 20 published public articles matching ``query``, most relevant first."""
    visitor = await widget_visitor(ctx, args["workspaceId"], args.get("visitorId"), args.get("sessionToken"))
    if visitor is None:
        return []
    matches = await search_articles(ctx, args["workspaceId"], args["query"], "published")
    return [await rendered(ctx, a) for a in matches if visitor_readable(a)][:SEARCH_LIMIT]


@query(args={"id": v.id("articles"), **WIDGET_VISITOR_ARGS})
async def getForVisitor(ctx, args):
    """One published public article of the workspace for the widget's visitor, or null."""
    visitor = await widget_visitor(ctx, args["workspaceId"], args.get("visitorId"), args.get("sessionToken"))
    if visitor is None:
        return None
    article = await ctx.db.get(args["id"])
    if article is None or article["workspaceId"] != args["workspaceId"] or not visitor_readable(article):
        return None
    return await rendered(ctx, article)


ASSET_LIST_LIMIT = 500


async def _workspace_article(ctx: Any, workspace_id: str, article_id: str | None) -> str | None:
    if article_id is None:
        return None
    article = await ctx.db.get(article_id)
    if article is None or article["workspaceId"] != workspace_id:
        not_found("Article")
    return article["_id"]


@mutation(args={"workspaceId": v.id("workspaces")})
async def generateAssetUploadUrl(ctx, args):
    """A single-use URL to POST one article image to (``articles.create``)."""
    await require_permission(ctx, args["workspaceId"], "articles.create")
    return await ctx.storage.generate_upload_url()


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "articleId": v.optional(v.id("articles")),
        "importSourceId": v.optional(v.id("helpCenterImportSources")),
        "importPath": v.optional(v.string()),
        "storageId": v.id("_storage"),
        "fileName": v.optional(v.string()),
    }
)
async def saveAsset(ctx, args):
    """Keep an uploaded image as an asset: ``{assetId, reference, url, fileName, mimeType, size}``."""
    agent = await require_permission(ctx, args["workspaceId"], "articles.create")
    article_id = await _workspace_article(ctx, args["workspaceId"], args.get("articleId"))
    source_id = args.get("importSourceId")
    if source_id is not None:
        source = await ctx.db.get(source_id)
        if source is None or source["workspaceId"] != args["workspaceId"]:
            not_found("Import source")
    return await save_asset(
        ctx, args["workspaceId"], args["storageId"], file_name=args.get("fileName"), user_id=agent.id,
        article_id=article_id, import_source_id=source_id, import_path=args.get("importPath"),
    )  # fmt: skip


@query(args={"workspaceId": v.id("workspaces"), "articleId": v.optional(v.id("articles"))})
async def listAssets(ctx, args):
    """The workspace's (or one article's) newest ``ASSET_LIST_LIMIT`` images, newest first, with URLs."""
    await require_permission(ctx, args["workspaceId"], "articles.read")
    article_id = await _workspace_article(ctx, args["workspaceId"], args.get("articleId"))
    if article_id is not None:
        index = ("by_workspace_article", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("articleId", article_id))
    else:
        index = ("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    assets = await ctx.db.query("articleAssets").with_index(*index).order("desc").take(ASSET_LIST_LIMIT)
    return [await described(ctx, asset) for asset in sorted(assets, key=lambda asset: asset["createdAt"], reverse=True)]


@mutation(args={"workspaceId": v.id("workspaces"), "assetId": v.id("articleAssets")})
async def deleteAsset(ctx, args):
    """Delete an image no article references any more, and its file: ``{success: true}``."""
    await require_permission(ctx, args["workspaceId"], "articles.delete")
    asset = await ctx.db.get(args["assetId"])
    if asset is None or asset["workspaceId"] != args["workspaceId"]:
        not_found("Asset")
    titles = await referencing_titles(ctx, args["workspaceId"], asset["_id"])
    if titles:
        fail(INVALID_INPUT, f"Asset is still referenced by {len(titles)} article(s): {', '.join(titles[:3])}")
    await ctx.storage.delete(asset["storageId"])
    await ctx.db.delete(asset["_id"])
    return {"success": True}
