"""Importing a Markdown folder into the help center (``helpCenterImports:syncMarkdownFolder``).

A folder is one *source* (its key: given, or derived from its name and target collection). Each
folder becomes a collection (names humanized from the folder names, nested as the folders are,
under the target collection when one is given); each ``.md`` file an article (title from front
matter, else the first heading, else the file name; ``collectionPath`` in front matter overrides
the folder). Images come uploaded beforehand and are linked in as ``oc-asset://`` references.

Re-importing the same source updates what it imported before (matched by path), may adopt a
hand-made item with the same name in the same place when exactly one matches, and archives then
deletes what the folder no longer has (a collection only once it is empty). ``dryRun`` computes
the same answer and writes nothing.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

from runtime import UNDEFINED

from .article_assets import reference, save_asset
from .clock import now_ms
from .errors import INVALID_INPUT, fail, not_found
from .help_center import generate_slug, unique_slug
from .help_center_tree import archive_and_delete, insert_article, insert_collection, match_text, update_article
from .identity import Doc
from .markdown_files import (
    IMAGE_FILE,
    MARKDOWN_FILE,
    collection_path_of,
    common_root_folder,
    depth,
    file_name,
    humanize,
    infer_title,
    link_images,
    normalize_path,
    parent_path,
    parse_markdown,
    source_key,
    with_parents,
)

MAX_IMPORT_FILES = 1000  # Markdown files and images in one import
PREVIEW_PATHS = 200  # paths listed per change kind in the answer


@dataclass
class Changes:
    """What an import does to one kind of item: counts, and the first ``PREVIEW_PATHS`` paths of each."""

    counts: dict[str, int] = field(default_factory=lambda: {"create": 0, "update": 0, "delete": 0})
    paths: dict[str, list[str]] = field(default_factory=lambda: {"create": [], "update": [], "delete": []})

    def add(self, change: str, path: str) -> None:
        self.counts[change] += 1
        if len(self.paths[change]) < PREVIEW_PATHS:
            self.paths[change].append(path)

    def preview(self) -> dict[str, list[str]]:
        return {change: sorted(paths) for change, paths in self.paths.items()}


def default_source_key(source_name: str, root_collection_id: str | None) -> str:
    """The key of a source named ``source_name`` imported into a collection (or the top level)."""
    scope = f"collection:{root_collection_id}" if root_collection_id else "collection:root"
    return f"{scope}:{source_key(source_name) or 'import'}"


def _strip_root(entries: list[tuple[str, Any]], root: str | None, what: str) -> dict[str, Any]:
    stripped: dict[str, Any] = {}
    for path, entry in entries:
        path = path.removeprefix(f"{root}/") if root else path
        if path in stripped:
            fail(INVALID_INPUT, f'Import contains duplicate {what} path after root normalization: "{path}"')
        stripped[path] = entry
    return stripped


def _read_upload(args: dict) -> tuple[dict[str, dict], dict[str, dict], str | None]:
    """The Markdown files (parsed) and images by path inside the folder, and the top folder stripped."""
    files = [(normalize_path(f["relativePath"]), parse_markdown(f["content"])) for f in args["files"]]
    files = [(path, parsed) for path, parsed in files if path and MARKDOWN_FILE.search(path)]
    if not files:
        fail(INVALID_INPUT, "No markdown files were found in this upload")
    assets = [(normalize_path(a["relativePath"]), a) for a in args.get("assets", [])]
    assets = [(path, asset) for path, asset in assets if path and IMAGE_FILE.search(path)]
    if len(files) + len(assets) > MAX_IMPORT_FILES:
        fail(INVALID_INPUT, f"An import takes at most {MAX_IMPORT_FILES} files and images")
    root = common_root_folder([path for path, _ in files + assets])
    return _strip_root(files, root, "markdown"), _strip_root(assets, root, "image"), root


def _adoptable(items: list[Doc], source_id: str | None, incoming: set[str] | dict, key: Any) -> dict[tuple, list[Doc]]:
    """Items an import may take over (hand-made, or its own but at a path no longer ``incoming``), by ``key(item)``."""
    grouped: dict[tuple, list[Doc]] = {}
    for item in items:
        if item.get("importSourceId") in (None, source_id) and item.get("importPath") not in incoming:
            grouped.setdefault(key(item), []).append(item)
    return grouped


def _only(candidates: list[Doc], taken: set[str]) -> Doc | None:
    free = [item for item in candidates if item["_id"] not in taken]
    return free[0] if len(free) == 1 else None


class FolderSync:
    """One run of ``syncMarkdownFolder`` (see module doc); ``run()`` returns the dashboard's preview."""

    def __init__(self, ctx: Any, args: dict, user_id: str) -> None:
        self.ctx, self.args, self.user_id = ctx, args, user_id
        self.workspace_id = args["workspaceId"]
        self.root_id: str | None = args.get("rootCollectionId")
        self.dry_run = args.get("dryRun", False)
        self.publish = args.get("publishByDefault", True)
        self.now = now_ms()
        self.run_id = f"{int(self.now)}-{secrets.token_hex(3)}"
        self.collections, self.articles = Changes(), Changes()
        self.collection_ids: dict[str, str] = {}
        self.source_id: str | None = None

    async def run(self) -> dict:
        key = source_key(self.args.get("sourceKey") or default_source_key(self.args["sourceName"], self.root_id))
        if not key:
            fail(INVALID_INPUT, "Import source key is required")
        if self.root_id is not None:
            root = await self.ctx.db.get(self.root_id)
            if root is None or root["workspaceId"] != self.workspace_id:
                not_found("Target collection")
        files, assets, stripped = _read_upload(self.args)
        await self._source(key)
        references = await self._images(assets)
        unresolved: set[str] = set()
        bodies = {}
        for path, parsed in files.items():
            bodies[path], missing = link_images(parsed["body"], path, references)
            unresolved.update(missing)
        own_collections = await self._own("collections")
        own_articles = await self._own("articles")
        wanted = {
            folder
            for path, parsed in files.items()
            if (home := collection_path_of(path, parsed))
            for folder in with_parents(home)
        }
        kept_collections = await self._place_collections(wanted, own_collections)
        kept_articles = await self._place_articles(files, bodies, own_articles)
        await self._remove(own_articles, own_collections, kept_articles, kept_collections)
        if not self.dry_run:
            await self.ctx.db.patch(
                self.source_id,
                {
                    "sourceName": self.args["sourceName"],
                    "updatedAt": self.now,
                    "lastImportedAt": self.now,
                    "lastImportRunId": self.run_id,
                    "lastImportedFileCount": float(len(files) + len(assets)),
                    "lastImportedCollectionCount": float(len(wanted)),
                },
            )
        answer = {
            "sourceKey": key,
            "sourceLabel": f"{self.args['sourceName']} ({self.root_id})" if self.root_id else self.args["sourceName"],
            "importRunId": self.run_id,
            "dryRun": self.dry_run,
            "createdCollections": float(self.collections.counts["create"]),
            "updatedCollections": float(self.collections.counts["update"]),
            "createdArticles": float(self.articles.counts["create"]),
            "updatedArticles": float(self.articles.counts["update"]),
            "deletedArticles": float(self.articles.counts["delete"]),
            "deletedCollections": float(self.collections.counts["delete"]),
            "totalFiles": float(len(files)),
            "totalAssets": float(len(assets)),
            "totalCollections": float(len(wanted)),
            "unresolvedImageReferences": sorted(unresolved),
            "preview": {"collections": self.collections.preview(), "articles": self.articles.preview()},
        }
        if self.source_id is not None:
            answer["sourceId"] = self.source_id
        if stripped is not None:
            answer["strippedRootFolder"] = stripped
        return answer

    async def _source(self, key: str) -> None:
        existing = await (
            self.ctx.db.query("helpCenterImportSources")
            .with_index(
                "by_workspace_source_key", lambda q: q.eq("workspaceId", self.workspace_id).eq("sourceKey", key)
            )
            .first()
        )
        self.source_id = existing["_id"] if existing else None
        if self.dry_run:
            return
        fields = {"sourceName": self.args["sourceName"], "updatedAt": self.now}
        if self.root_id is not None:
            fields["rootCollectionId"] = self.root_id
        if existing is not None:
            await self.ctx.db.patch(existing["_id"], fields)
        else:
            source = {"workspaceId": self.workspace_id, "sourceKey": key, **fields, "createdAt": self.now}
            self.source_id = await self.ctx.db.insert("helpCenterImportSources", source)

    async def _images(self, assets: dict[str, dict]) -> dict[str, str]:
        """Save the uploaded images; returns the asset reference of every image path the source has."""
        references: dict[str, str] = {}
        if self.source_id is not None:
            saved = self.ctx.db.query("articleAssets").with_index(
                "by_import_source_path", lambda q: q.eq("importSourceId", self.source_id)
            )
            references = {
                asset["importPath"]: reference(asset["_id"]) async for asset in saved if asset.get("importPath")
            }
        for path, asset in assets.items():
            if self.dry_run:
                references.setdefault(path, f"oc-asset://dryrun-{source_key(path) or 'asset'}")
                continue
            if "storageId" not in asset:
                fail(INVALID_INPUT, f'Image "{path}" is missing storageId. Upload assets before applying import.')
            saved_asset = await save_asset(
                self.ctx, self.workspace_id, asset["storageId"], file_name=file_name(path), user_id=self.user_id,
                import_source_id=self.source_id, import_path=path,
            )  # fmt: skip
            references[path] = saved_asset["reference"]
        return references

    async def _own(self, table: str) -> list[Doc]:
        if self.source_id is None:
            return []
        rows = self.ctx.db.query(table).with_index(
            "by_workspace_import_source",
            lambda q: q.eq("workspaceId", self.workspace_id).eq("importSourceId", self.source_id),
        )
        return await rows.collect()

    async def _workspace(self, table: str) -> list[Doc]:
        return (
            await self.ctx.db.query(table)
            .with_index("by_workspace", lambda q: q.eq("workspaceId", self.workspace_id))
            .collect()
        )

    async def _candidates(self, table: str, own: list[Doc], incoming: Any, key: Any) -> tuple[dict, dict]:
        """The source's own items by import path, and the adoptable items of ``table`` by ``key``."""
        by_path = {row["importPath"]: row for row in own if row.get("importPath")}
        return by_path, _adoptable(await self._workspace(table), self.source_id, incoming, key)

    async def _place_collections(self, wanted: set[str], own: list[Doc]) -> set[str]:
        by_path, by_name = await self._candidates(
            "collections", own, wanted, lambda row: (row.get("parentId"), match_text(row["name"]))
        )
        kept: set[str] = set()
        for path in sorted(wanted, key=lambda path: (depth(path), path)):
            parent = parent_path(path)
            parent_id = self.collection_ids[parent] if parent else self.root_id
            name = humanize(file_name(path))
            existing = by_path.get(path) or _only(by_name.get((parent_id, match_text(name)), []), kept)
            if existing is None:
                self.collections.add("create", path)
                self.collection_ids[path] = (
                    f"dry-run:{path}"
                    if self.dry_run
                    else await insert_collection(
                        self.ctx, self.workspace_id, self.source_id, path, name, parent_id, self.now
                    )
                )
                kept.add(self.collection_ids[path])
                continue
            changes: dict[str, Any] = {}
            if existing["name"] != name:
                changes["name"] = name
                changes["slug"] = await unique_slug(
                    self.ctx, "collections", self.workspace_id, generate_slug(name, "collection"), existing["_id"]
                )
            if existing.get("parentId") != parent_id:
                changes["parentId"] = parent_id if parent_id is not None else UNDEFINED
            if existing.get("importPath") != path or existing.get("importSourceId") != self.source_id:
                changes.update(importPath=path, importSourceId=self.source_id)
            if changes:
                self.collections.add("update", path)
                if not self.dry_run:
                    await self.ctx.db.patch(existing["_id"], {**changes, "updatedAt": self.now})
            self.collection_ids[path] = existing["_id"]
            kept.add(existing["_id"])
        return kept

    async def _place_articles(self, files: dict[str, dict], bodies: dict[str, str], own: list[Doc]) -> set[str]:
        by_path, by_title = await self._candidates(
            "articles", own, files, lambda row: (row.get("collectionId"), match_text(row["title"]))
        )
        kept: set[str] = set()
        for path in sorted(files):
            parsed, body = files[path], bodies[path]
            home = collection_path_of(path, parsed)
            collection_id = self.collection_ids[home] if home else self.root_id
            title = parsed.get("title") or infer_title(path, body)
            slug = parsed.get("slug") or generate_slug(title, "article")
            existing = by_path.get(path) or _only(by_title.get((collection_id, match_text(title)), []), kept)
            if existing is None:
                self.articles.add("create", path)
                if not self.dry_run:
                    fields = {"title": title, "content": body, "status": "published" if self.publish else "draft"}
                    kept.add(
                        await insert_article(
                            self.ctx,
                            self.workspace_id,
                            self.source_id,
                            path,
                            fields,
                            collection_id,
                            self.now,
                            slug=slug,
                        )
                    )
                continue
            kept.add(existing["_id"])
            changes: dict[str, Any] = {}
            if existing["title"] != title:
                changes.update(
                    title=title, slug=await unique_slug(self.ctx, "articles", self.workspace_id, slug, existing["_id"])
                )
            if existing["content"] != body:
                changes["content"] = body
            if existing.get("collectionId") != collection_id:
                changes["collectionId"] = collection_id if collection_id is not None else UNDEFINED
            if self.publish and existing["status"] != "published":
                changes.update(status="published", publishedAt=self.now)
            if existing.get("importPath") != path or existing.get("importSourceId") != self.source_id:
                changes.update(importPath=path, importSourceId=self.source_id)
            if changes:
                self.articles.add("update", path)
                if not self.dry_run:
                    await update_article(self.ctx, existing, {**changes, "updatedAt": self.now})
        return kept

    async def _remove(
        self, articles: list[Doc], collections: list[Doc], kept_articles: set[str], kept_collections: set[str]
    ) -> None:
        """Archive and delete what the folder no longer has; a collection only once nothing is left in it."""
        gone: set[str] = set()
        for article in articles:
            if article["_id"] not in kept_articles and article.get("importPath"):
                self.articles.add("delete", article["importPath"])
                gone.add(article["_id"])
                if not self.dry_run:
                    await archive_and_delete(self.ctx, self.source_id, self.run_id, article, "article", self.now)
        leftovers = [row for row in collections if row["_id"] not in kept_collections and row.get("importPath")]
        for collection in sorted(leftovers, key=lambda row: -depth(row["importPath"])):
            children = self.ctx.db.query("collections").with_index(
                "by_parent", lambda q, c=collection: q.eq("workspaceId", self.workspace_id).eq("parentId", c["_id"])
            )
            pages = self.ctx.db.query("articles").with_index(
                "by_collection", lambda q, c=collection: q.eq("collectionId", c["_id"])
            )
            if any(row["_id"] not in gone for row in await children.collect() + await pages.collect()):
                continue
            self.collections.add("delete", collection["importPath"])
            gone.add(collection["_id"])
            if not self.dry_run:
                await archive_and_delete(self.ctx, self.source_id, self.run_id, collection, "collection", self.now)
