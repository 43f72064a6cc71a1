"""Bringing back what one import run removed (``helpCenterImports:restoreRun``).

Collections come back first, shallowest first, each under its archived parent (recreated as
needed) or the source's target collection; then articles, into their archived folder. An item the
source has again at the same path is updated to the archived version instead of duplicated. Every
entry of the run is then marked restored, so restoring twice changes nothing the second time.
"""

from typing import Any

from runtime import UNDEFINED

from .clock import now_ms
from .help_center import generate_slug, unique_slug
from .help_center_tree import insert_article, insert_collection, update_article
from .identity import Doc
from .markdown_files import depth, file_name, humanize, parent_path

MAX_RESTORED_ENTRIES = 2000


class RunRestore:
    """One restore of a source's import run."""

    def __init__(self, ctx: Any, source: Doc, run_id: str) -> None:
        self.ctx, self.source, self.run_id = ctx, source, run_id
        self.workspace_id, self.now = source["workspaceId"], now_ms()
        self.collection_ids: dict[str, str] = {}
        self.archived_collections: dict[str, Doc] = {}

    async def _own(self, table: str) -> list[Doc]:
        rows = self.ctx.db.query(table).with_index(
            "by_workspace_import_source",
            lambda q: q.eq("workspaceId", self.workspace_id).eq("importSourceId", self.source["_id"]),
        )
        return await rows.collect()

    async def _collection(self, path: str) -> str:
        """The id of the source's collection at ``path``, recreating it (and its parents) if needed."""
        if path in self.collection_ids:
            return self.collection_ids[path]
        entry = self.archived_collections.get(path)
        parent = entry.get("parentPath") if entry is not None else parent_path(path)
        parent_id = await self._collection(parent) if parent else self.source.get("rootCollectionId")
        name = entry["name"] if entry is not None else humanize(file_name(path))
        extra = {"description": entry.get("description"), "icon": entry.get("icon")} if entry is not None else {}
        self.collection_ids[path] = await insert_collection(
            self.ctx, self.workspace_id, self.source["_id"], path, name, parent_id, self.now, **extra
        )
        return self.collection_ids[path]

    async def run(self) -> dict:
        entries = await (
            self.ctx.db.query("helpCenterImportArchives")
            .with_index(
                "by_workspace_source_run",
                lambda q: (
                    q.eq("workspaceId", self.workspace_id)
                    .eq("sourceId", self.source["_id"])
                    .eq("importRunId", self.run_id)
                ),
            )
            .take(MAX_RESTORED_ENTRIES)
        )
        entries = [entry for entry in entries if "restoredAt" not in entry]
        if not entries:
            return {"restoredCollections": 0.0, "restoredArticles": 0.0}
        self.collection_ids = {
            row["importPath"]: row["_id"] for row in await self._own("collections") if row.get("importPath")
        }
        articles = {row["importPath"]: row for row in await self._own("articles") if row.get("importPath")}
        folders = sorted((e for e in entries if e["entityType"] == "collection"), key=lambda e: depth(e["importPath"]))
        self.archived_collections = {entry["importPath"]: entry for entry in folders}
        restored_collections = 0
        for entry in folders:
            if entry["importPath"] not in self.collection_ids:
                await self._collection(entry["importPath"])
                restored_collections += 1
        restored_articles = 0
        for entry in sorted((e for e in entries if e["entityType"] == "article"), key=lambda e: e["importPath"]):
            restored_articles += await self._article(entry, articles.get(entry["importPath"]))
        for entry in entries:
            await self.ctx.db.patch(entry["_id"], {"restoredAt": self.now})
        await self.ctx.db.patch(self.source["_id"], {"updatedAt": self.now})
        return {"restoredCollections": float(restored_collections), "restoredArticles": float(restored_articles)}

    async def _article(self, entry: Doc, existing: Doc | None) -> int:
        """Restore one archived article; 1 when something changed."""
        folder = entry.get("parentPath") or parent_path(entry["importPath"])
        collection_id = await self._collection(folder) if folder else self.source.get("rootCollectionId")
        status = entry.get("status", "published")
        if existing is None:
            fields = {"title": entry["name"], "content": entry.get("content", ""), "status": status}
            await insert_article(
                self.ctx, self.workspace_id, self.source["_id"], entry["importPath"], fields, collection_id, self.now,
                slug=generate_slug(entry["name"], "article"),
            )  # fmt: skip
            return 1
        changes: dict[str, Any] = {}
        if existing["title"] != entry["name"]:
            slug = await unique_slug(
                self.ctx, "articles", self.workspace_id, generate_slug(entry["name"], "article"), existing["_id"]
            )
            changes.update(title=entry["name"], slug=slug)
        if "content" in entry and existing["content"] != entry["content"]:
            changes["content"] = entry["content"]
        if existing.get("collectionId") != collection_id:
            changes["collectionId"] = collection_id if collection_id is not None else UNDEFINED
        if "status" in entry and existing["status"] != entry["status"]:
            changes.update(
                status=entry["status"], publishedAt=self.now if entry["status"] == "published" else UNDEFINED
            )
        if not changes:
            return 0
        await update_article(self.ctx, existing, {**changes, "updatedAt": self.now})
        return 1
