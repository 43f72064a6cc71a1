"""Content folders: the tree agents file saved replies in (``snippets.folderId``).

A folder belongs to one workspace; anything filed in it must belong to the same workspace, and a
folder never becomes its own ancestor.
"""

from typing import Any

from .errors import INVALID_INPUT, fail
from .identity import Doc

MAX_DEPTH = 64  # ancestors walked when checking for a cycle


async def folder_of_workspace(ctx: Any, folder_id: str, workspace_id: str) -> Doc:
    """The folder, which must exist in ``workspace_id`` (a clear error otherwise)."""
    folder = await ctx.db.get(folder_id)
    if folder is None or folder["workspaceId"] != workspace_id:
        fail(INVALID_INPUT, "Folder not found in this workspace")
    return folder


async def refuse_cycle(ctx: Any, folder_id: str, new_parent_id: str) -> None:
    """Refuse moving ``folder_id`` under ``new_parent_id`` when that is the folder or one of its descendants."""
    current: str | None = new_parent_id
    for _ in range(MAX_DEPTH):
        if current is None:
            return
        if current == folder_id:
            fail(INVALID_INPUT, "Cannot move folder into itself or its own descendant")
        parent = await ctx.db.get(current)
        current = None if parent is None else parent.get("parentId")
    fail(INVALID_INPUT, "Folder tree is too deep")
