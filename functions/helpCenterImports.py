"""Help-center Markdown imports, read side: the import sources and the history of what re-imports
removed, which the dashboard's articles screen lists beside the articles.

Both need ``articles.read`` (Opencom's rule). Lists are bounded: a workspace's sources newest first
(at most ``MAX_SOURCES``), and the history grouped by import run from the newest
``MAX_HISTORY_ENTRIES`` archived entries.
"""

from typing import Any

from runtime import query, v

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
