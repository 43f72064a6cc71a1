"""Snippets: saved replies agents insert with a keyboard shortcut (``snippets.manage``).

Shortcuts are unique per workspace. A snippet may be filed in a content folder of its workspace
(``folderId``; ``null`` takes it out). Every function, reads included, refuses anonymous callers.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.clock import now_ms
from .lib.content_folders import folder_of_workspace
from .lib.embedding_jobs import schedule_snippet_embedding, schedule_snippet_removal
from .lib.errors import ALREADY_EXISTS, NOT_AUTHORIZED, fail, not_found
from .lib.identity import require_user
from .lib.permissions import require_permission

MANAGE = "snippets.manage"
SEARCH_LIMIT = 20
FOLDER = v.union(v.id("contentFolders"), v.null())


async def _folder(ctx: Any, args: dict, workspace_id: str) -> str | None:
    """The folder ``args`` files the snippet in (checked to be the workspace's), or None."""
    folder_id = args.get("folderId")
    if folder_id is None:
        return None
    return (await folder_of_workspace(ctx, folder_id, workspace_id))["_id"]


async def _workspace_snippets(ctx: Any, workspace_id: str) -> list[dict]:
    return (
        await ctx.db.query("snippets").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).collect()
    )


async def _by_shortcut(ctx: Any, workspace_id: str, shortcut: str) -> dict | None:
    return (
        await ctx.db.query("snippets")
        .with_index("by_shortcut", lambda q: q.eq("workspaceId", workspace_id).eq("shortcut", shortcut))
        .first()
    )


async def _refuse_taken_shortcut(
    ctx: Any, workspace_id: str, shortcut: str | None, exclude_id: str | None = None
) -> None:
    if not shortcut:
        return
    taken = await _by_shortcut(ctx, workspace_id, shortcut)
    if taken is not None and taken["_id"] != exclude_id:
        fail(ALREADY_EXISTS, "Shortcut already exists")


async def _snippet(ctx: Any, snippet_id: str) -> dict:
    await require_user(ctx)
    snippet = await ctx.db.get(snippet_id)
    if snippet is None:
        not_found("Snippet")
    await require_permission(ctx, snippet["workspaceId"], MANAGE)
    return snippet


@query(args={"workspaceId": v.id("workspaces"), "folderId": v.optional(v.id("contentFolders"))})
async def list_(ctx, args):
    """The workspace's snippets (only those in ``folderId`` when given) sorted by name."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    snippets = await _workspace_snippets(ctx, args["workspaceId"])
    if "folderId" in args:
        snippets = [snippet for snippet in snippets if snippet.get("folderId") == args["folderId"]]
    return sorted(snippets, key=lambda snippet: (snippet["name"].casefold(), snippet["name"]))


@query(args={"id": v.id("snippets")})
async def get(ctx, args):
    """The snippet, or null when it does not exist."""
    await require_user(ctx)
    snippet = await ctx.db.get(args["id"])
    if snippet is None:
        return None
    await require_permission(ctx, snippet["workspaceId"], MANAGE)
    return snippet


@query(args={"workspaceId": v.id("workspaces"), "query": v.string()})
async def search(ctx, args):
    """Up to 20 snippets whose name, shortcut or content contains ``query`` (case-insensitive)."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    needle = args["query"].casefold()
    matches = [
        snippet
        for snippet in await _workspace_snippets(ctx, args["workspaceId"])
        if any(needle in (snippet.get(field) or "").casefold() for field in ("name", "shortcut", "content"))
    ]
    return matches[:SEARCH_LIMIT]


@query(args={"workspaceId": v.id("workspaces"), "shortcut": v.string()})
async def getByShortcut(ctx, args):
    """The snippet with exactly this shortcut, or null."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    return await _by_shortcut(ctx, args["workspaceId"], args["shortcut"])


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "content": v.string(),
        "shortcut": v.optional(v.string()),
        "createdBy": v.optional(v.id("users")),
        "folderId": v.optional(FOLDER),
    }
)
async def create(ctx, args):
    """Create a snippet authored by the caller; returns its id."""
    agent = await require_permission(ctx, args["workspaceId"], MANAGE)
    if args.get("createdBy", agent.id) != agent.id:
        fail(NOT_AUTHORIZED, "Cannot create snippet on behalf of another user")
    await _refuse_taken_shortcut(ctx, args["workspaceId"], args.get("shortcut"))
    folder_id = await _folder(ctx, args, args["workspaceId"])
    now = now_ms()
    snippet_id = await ctx.db.insert(
        "snippets",
        {
            "workspaceId": args["workspaceId"],
            "name": args["name"],
            "content": args["content"],
            "shortcut": args.get("shortcut") or UNDEFINED,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": agent.id,
            "folderId": folder_id or UNDEFINED,
        },
    )
    await schedule_snippet_embedding(ctx, await ctx.db.get(snippet_id))
    return snippet_id


@mutation(
    args={
        "id": v.id("snippets"),
        "name": v.optional(v.string()),
        "content": v.optional(v.string()),
        "shortcut": v.optional(v.string()),
        "folderId": v.optional(FOLDER),
    }
)
async def update(ctx, args):
    """Change a snippet's name, content, shortcut (empty removes it) or folder; returns its id."""
    snippet = await _snippet(ctx, args["id"])
    if args.get("shortcut") and args["shortcut"] != snippet.get("shortcut"):
        await _refuse_taken_shortcut(ctx, snippet["workspaceId"], args["shortcut"], exclude_id=snippet["_id"])
    changes = {field: args[field] for field in ("name", "content") if field in args}
    if "shortcut" in args:
        changes["shortcut"] = args["shortcut"] or UNDEFINED
    if "folderId" in args:
        changes["folderId"] = await _folder(ctx, args, snippet["workspaceId"]) or UNDEFINED
    await ctx.db.patch(snippet["_id"], {**changes, "updatedAt": now_ms()})
    if "name" in changes or "content" in changes:
        await schedule_snippet_embedding(ctx, await ctx.db.get(snippet["_id"]))
    return snippet["_id"]


@mutation(args={"id": v.id("snippets")})
async def remove(ctx, args):
    """Delete a snippet: ``{success: true}``."""
    snippet = await _snippet(ctx, args["id"])
    await ctx.db.delete(snippet["_id"])
    await schedule_snippet_removal(ctx, snippet["_id"])
    return {"success": True}
