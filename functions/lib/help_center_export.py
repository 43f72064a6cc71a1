"""Exporting help-center articles as a portable Markdown folder (``helpCenterImports:exportMarkdown``).

Each article becomes ``<collection path>/<slug>.md`` (or, exporting one source, the path it was
imported from) with front matter the import reads back; each image it references becomes a file
under ``_assets/`` (the client downloads it from ``assetUrl``) and the reference a relative link.
Paths are made unique with ``-2``, ``-3``, … suffixes.
"""

from datetime import UTC, datetime
from typing import Any

from .article_assets import referenced_ids
from .clock import now_ms
from .errors import not_found
from .identity import Doc
from .markdown_files import (
    UNCATEGORIZED,
    dedupe,
    front_matter,
    portable_links,
    sanitize_segment,
    without_markdown_extension,
)


def _subtree(collections: dict[str, Doc], root_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for collection in collections.values():
        children.setdefault(collection.get("parentId", ""), []).append(collection["_id"])
    found, stack = set(), [root_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    return found


def _folder_paths(collections: dict[str, Doc]) -> dict[str, str]:
    """Each collection's folder path: its ancestors' names as path segments."""
    paths: dict[str, str] = {}

    def path_of(collection_id: str, seen: frozenset[str] = frozenset()) -> str:
        if collection_id not in paths:
            collection = collections[collection_id]
            segment = sanitize_segment(collection["name"]) or "collection"
            parent = collection.get("parentId")
            above = path_of(parent, seen | {collection_id}) if parent in collections and parent not in seen else ""
            paths[collection_id] = f"{above}/{segment}" if above else segment
        return paths[collection_id]

    for collection_id in collections:
        path_of(collection_id)
    return paths


def _markdown_path(path: str, used: set[str]) -> str:
    return dedupe(path if path.lower().endswith((".md", ".markdown")) else f"{path}.md", used)


async def _image_files(
    ctx: Any, workspace_id: str, articles: list[Doc], used: set[str]
) -> tuple[dict[str, str], list[dict]]:
    path_by_asset: dict[str, str] = {}
    files: list[dict] = []
    for asset_id in dict.fromkeys(asset_id for article in articles for asset_id in referenced_ids(article["content"])):
        normalized = ctx.db.normalize_id("articleAssets", asset_id)
        asset = await ctx.db.get(normalized) if normalized else None
        if asset is None or asset["workspaceId"] != workspace_id:
            continue
        url = await ctx.storage.get_url(asset["storageId"])
        if url is None:
            continue
        name = asset["fileName"]
        extension = name[name.rfind(".") :].lower() if "." in name else ".bin"
        stem = (
            sanitize_segment(without_markdown_extension(name.rsplit(".", 1)[0] if "." in name else name))
            or f"image-{asset_id}"
        )
        path = dedupe(
            f"_assets/{asset['importPath']}" if asset.get("importPath") else f"_assets/{stem}{extension}", used
        )
        path_by_asset[asset_id] = path
        files.append({"path": path, "assetUrl": url, "type": "asset"})
    return path_by_asset, files


async def export_markdown(ctx: Any, args: dict) -> dict:
    """``{exportedAt, count, fileName, files}``: the chosen articles as Markdown files plus their images."""
    workspace_id = args["workspaceId"]
    source = None
    if "sourceId" in args:
        source = await ctx.db.get(args["sourceId"])
        if source is None or source["workspaceId"] != workspace_id:
            not_found("Import source")
    rows = (
        await ctx.db.query("collections")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .collect()
    )
    collections = {row["_id"]: row for row in rows}
    root_id = args.get("rootCollectionId")
    if root_id is not None and root_id not in collections:
        not_found("Export root collection")
    within = _subtree(collections, root_id) if root_id is not None else None
    articles = (
        await ctx.db.query("articles").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).collect()
    )
    articles = [
        article for article in articles
        if (args.get("includeDrafts", True) or article["status"] == "published")
        and (source is None or article.get("importSourceId") == source["_id"])
        and (within is None or article.get("collectionId") in within)
    ]  # fmt: skip
    folders, used = _folder_paths(collections), set()
    placed = []
    for article in sorted(articles, key=lambda article: article["title"]):
        folder = folders.get(article.get("collectionId", ""), "")
        name = sanitize_segment(article["slug"] or article["title"]) or "article"
        preferred = (
            article["importPath"]
            if source is not None and article.get("importPath")
            else (f"{folder}/{name}" if folder else name)
        )
        placed.append(
            (article, _markdown_path(preferred, used), folder or (None if "collectionId" in article else UNCATEGORIZED))
        )
    path_by_asset, image_files = await _image_files(ctx, workspace_id, [article for article, _, _ in placed], used)
    markdown = [
        {
            "path": path,
            "type": "markdown",
            "content": front_matter(
                article["title"], article["slug"], article["status"], article["updatedAt"], collection_path,
                source["sourceName"] if source else None, portable_links(article["content"], path, path_by_asset),
            ),
        }
        for article, path, collection_path in placed
    ]  # fmt: skip
    now = now_ms()
    scope = sanitize_segment(source["sourceName"]) or "source" if source else None
    if scope is None and root_id is not None:
        scope = sanitize_segment(collections[root_id]["name"]) or "collection"
    day = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%d")
    files = markdown + image_files
    return {
        "exportedAt": now,
        "count": float(len(files)),
        "fileName": f"help-center-markdown-{scope or 'all'}-{day}.zip",
        "files": files,
    }
