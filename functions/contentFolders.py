"""Content folders: create, rename, move, list and remove the folders snippets are filed in.

Managing folders needs ``articles.create`` and listing them ``articles.read`` (Opencom's rules).
Removing a folder moves what it held (snippets and child folders) into ``moveContentsTo`` or up to
the removed folder's parent, so nothing filed is lost; Opencom deletes the child folders.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.clock import now_ms
from .lib.content_folders import folder_of_workspace, refuse_cycle
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import Doc
from .lib.permissions import agent_with_permission, require_permission

MANAGE = "articles.create"


def _siblings(ctx: Any, workspace_id: str, parent_id: str | None) -> Any:
    return ctx.db.query("contentFolders").with_index(
        "by_parent", lambda q: q.eq("workspaceId", workspace_id).eq("parentId", parent_id if parent_id else UNDEFINED)
    )


async def _managed_folder(ctx: Any, folder_id: str) -> Doc:
    folder = await ctx.db.get(folder_id)
    if folder is None:
        not_found("Folder")
    await require_permission(ctx, folder["workspaceId"], MANAGE)
    return folder


def _name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        fail(INVALID_INPUT, "Folder name is required")
    return cleaned


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "parentId": v.optional(v.id("contentFolders"))})
async def create(ctx, args):
    """A new folder, last among its siblings; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    parent_id = args.get("parentId")
    if parent_id is not None:
        await folder_of_workspace(ctx, parent_id, args["workspaceId"])
    last = await _siblings(ctx, args["workspaceId"], parent_id).collect()
    now = now_ms()
    return await ctx.db.insert(
        "contentFolders",
        {
            "workspaceId": args["workspaceId"],
            "name": _name(args["name"]),
            "parentId": parent_id or UNDEFINED,
            "order": max((folder["order"] for folder in last), default=0.0) + 1,
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(
    args={"id": v.id("contentFolders"), "name": v.optional(v.string()), "parentId": v.optional(v.id("contentFolders"))}
)
async def update(ctx, args):
    """Rename a folder or move it under another folder of the workspace; returns its id."""
    folder = await _managed_folder(ctx, args["id"])
    changes: Doc = {"updatedAt": now_ms()}
    if "name" in args:
        changes["name"] = _name(args["name"])
    if "parentId" in args:
        await folder_of_workspace(ctx, args["parentId"], folder["workspaceId"])
        await refuse_cycle(ctx, folder["_id"], args["parentId"])
        changes["parentId"] = args["parentId"]
    await ctx.db.patch(folder["_id"], changes)
    return folder["_id"]


@mutation(args={"id": v.id("contentFolders"), "moveContentsTo": v.optional(v.id("contentFolders"))})
async def remove(ctx, args):
    """Delete a folder, moving its snippets and child folders to ``moveContentsTo`` or its parent."""
    folder = await _managed_folder(ctx, args["id"])
    target = args.get("moveContentsTo", folder.get("parentId"))
    if target is not None:
        await folder_of_workspace(ctx, target, folder["workspaceId"])
        await refuse_cycle(ctx, folder["_id"], target)
    async for child in _siblings(ctx, folder["workspaceId"], folder["_id"]):
        await ctx.db.patch(child["_id"], {"parentId": target or UNDEFINED})
    async for snippet in ctx.db.query("snippets").with_index("by_folder", lambda q: q.eq("folderId", folder["_id"])):
        await ctx.db.patch(snippet["_id"], {"folderId": target or UNDEFINED})
    await ctx.db.delete(folder["_id"])
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces"), "parentId": v.optional(v.id("contentFolders"))})
async def list_(ctx, args):
    """The folders directly under ``parentId`` (the root when absent), in order; [] for non-readers."""
    if await agent_with_permission(ctx, args["workspaceId"], "articles.read") is None:
        return []
    folders = await _siblings(ctx, args["workspaceId"], args.get("parentId")).collect()
    return sorted(folders, key=lambda folder: folder["order"])
