"""Help-center Markdown folders: import (``syncMarkdownFolder``), the sources and the history of what
re-imports removed, restoring a run, and export — the articles screen's import/export panel.

Importing and restoring need ``articles.create``, exporting ``data.export``, reading the lists
``articles.read`` (Opencom's rules). The work is in ``lib/help_center_sync``,
``lib/help_center_restore`` and ``lib/help_center_export``. Lists are bounded: a workspace's
sources newest first (at most ``MAX_SOURCES``), and the history grouped by import run from the
newest ``MAX_HISTORY_ENTRIES`` archived entries.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.errors import not_found
from .lib.help_center_export import export_markdown
from .lib.help_center_restore import RunRestore
from .lib.help_center_sync import FolderSync
from .lib.identity import Doc
from .lib.permissions import require_permission

READ = "articles.read"
MAX_SOURCES = 200
MAX_HISTORY_ENTRIES = 2000
DEFAULT_HISTORY_RUNS = 25
MAX_HISTORY_RUNS = 100


@query(args={"workspaceId": v.id("workspaces")})
async def listSources(ctx, args):
    """The workspace's import sources, most recently updated first, with their root collection's name."""
    await require_permission(ctx, args["workspaceId"], READ)
    sources = await (
        ctx.db.query("helpCenterImportSources")
        .with_index("by_workspace_updated_at", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .order("desc")
        .take(MAX_SOURCES)
    )
    listed = []
    for source in sources:
        root_id = source.get("rootCollectionId")
        root = await ctx.db.get(root_id) if root_id is not None else None
        listed.append({**source, **({"rootCollectionName": root["name"]} if root is not None else {})})
    return listed


def _group(entry: Doc, source_name: str) -> dict[str, Any]:
    return {
        "sourceId": entry["sourceId"],
        "sourceName": source_name,
        "importRunId": entry["importRunId"],
        "deletedAt": entry["deletedAt"],
        "deletedArticles": 0,
        "deletedCollections": 0,
        "restoredEntries": 0,
        "totalEntries": 0,
    }


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "sourceId": v.optional(v.id("helpCenterImportSources")),
        "limit": v.optional(v.number()),
    }
)
async def listHistory(ctx, args):
    """What each import run removed (per source and run: counts, how many restored), newest first."""
    workspace_id = args["workspaceId"]
    await require_permission(ctx, workspace_id, READ)
    runs = int(max(1, min(args.get("limit", DEFAULT_HISTORY_RUNS), MAX_HISTORY_RUNS)))
    source_id = args.get("sourceId")
    if source_id is not None:
        archives = ctx.db.query("helpCenterImportArchives").with_index(
            "by_workspace_source", lambda q: q.eq("workspaceId", workspace_id).eq("sourceId", source_id)
        )
    else:
        archives = ctx.db.query("helpCenterImportArchives").with_index(
            "by_workspace_deleted_at", lambda q: q.eq("workspaceId", workspace_id)
        )
    entries = await archives.order("desc").take(MAX_HISTORY_ENTRIES)
    names: dict[str, str] = {}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry["sourceId"] not in names:
            source = await ctx.db.get(entry["sourceId"])
            names[entry["sourceId"]] = source["sourceName"] if source is not None else "Unknown source"
        group = groups.setdefault(
            (entry["sourceId"], entry["importRunId"]), _group(entry, names[entry["sourceId"]])
        )
        group["deletedAt"] = max(group["deletedAt"], entry["deletedAt"])
        group["deletedArticles" if entry["entityType"] == "article" else "deletedCollections"] += 1
        group["restoredEntries"] += 1 if entry.get("restoredAt") is not None else 0
        group["totalEntries"] += 1
    newest = sorted(groups.values(), key=lambda group: group["deletedAt"], reverse=True)[:runs]
    return [{**group, "restorableEntries": group["totalEntries"] - group["restoredEntries"]} for group in newest]


markdown_file = v.object({"relativePath": v.string(), "content": v.string()})
import_asset = v.object(
    {
        "relativePath": v.string(),
        "storageId": v.optional(v.id("_storage")),
        "mimeType": v.optional(v.string()),
        "size": v.optional(v.number()),
    }
)


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "sourceKey": v.optional(v.string()),
        "sourceName": v.string(),
        "rootCollectionId": v.optional(v.id("collections")),
        "files": v.array(markdown_file),
        "assets": v.optional(v.array(import_asset)),
        "publishByDefault": v.optional(v.boolean()),
        "dryRun": v.optional(v.boolean()),
    }
)
async def syncMarkdownFolder(ctx, args):
    """Import (or, with ``dryRun``, preview importing) a Markdown folder; answers counts and changed paths."""
    agent = await require_permission(ctx, args["workspaceId"], "articles.create")
    return await FolderSync(ctx, args, agent.id).run()


@mutation(
    args={"workspaceId": v.id("workspaces"), "sourceId": v.id("helpCenterImportSources"), "importRunId": v.string()}
)
async def restoreRun(ctx, args):
    """Bring back what one import run removed: ``{restoredCollections, restoredArticles}``."""
    await require_permission(ctx, args["workspaceId"], "articles.create")
    source = await ctx.db.get(args["sourceId"])
    if source is None or source["workspaceId"] != args["workspaceId"]:
        not_found("Import source")
    return await RunRestore(ctx, source, args["importRunId"]).run()


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "sourceId": v.optional(v.id("helpCenterImportSources")),
        "rootCollectionId": v.optional(v.id("collections")),
        "includeDrafts": v.optional(v.boolean()),
    }
)
async def exportMarkdown(ctx, args):
    """The workspace's (or one source's or collection's) articles as Markdown files with their images."""
    await require_permission(ctx, args["workspaceId"], "data.export")
    return await export_markdown(ctx, args)
