"""Common-issue buttons: the quick answers the messenger home offers (open an article, or start a
conversation with a prepared first message).

The widget lists the enabled buttons with no sign-in; managing them needs ``settings.workspace``.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.help_center import visitor_readable
from .lib.identity import Doc, require_user
from .lib.permissions import agent_with_permission, require_permission

_ACTION = v.union(v.literal("article"), v.literal("start_conversation"))


async def _buttons(ctx: Any, workspace_id: str, *, visitor_view: bool) -> list[Doc]:
    """The workspace's buttons in display order, each with its article's ``{_id, title, slug}`` or null.

    Visitors see an article only if they may read it (published and public), never a draft's title.
    """
    rows = await (
        ctx.db.query("commonIssueButtons")
        .with_index("by_workspace_order", lambda q: q.eq("workspaceId", workspace_id))
        .collect()
    )
    enriched = []
    for row in rows:
        article = None
        if row["action"] == "article" and "articleId" in row:
            found = await ctx.db.get(row["articleId"])
            readable = found is not None and (not visitor_view or visitor_readable(found))
            if readable and found["workspaceId"] == workspace_id:
                article = {"_id": found["_id"], "title": found["title"], "slug": found["slug"]}
        enriched.append({**row, "article": article})
    return enriched


async def _button_admin(ctx: Any, button_id: str) -> Doc:
    await require_user(ctx)
    button = await ctx.db.get(button_id)
    if button is None:
        not_found("Button")
    await require_permission(ctx, button["workspaceId"], "settings.workspace")
    return button


def _check_action(action: str, fields: Doc) -> None:
    if action == "article" and not fields.get("articleId"):
        fail(INVALID_INPUT, "Article ID is required for article action")
    if action == "start_conversation" and not fields.get("conversationStarter"):
        fail(INVALID_INPUT, "Conversation starter is required for start_conversation action")


async def _check_article(ctx: Any, workspace_id: str, article_id: str | None) -> None:
    if article_id is None:
        return
    article = await ctx.db.get(article_id)
    if article is None or article["workspaceId"] != workspace_id:
        fail(INVALID_INPUT, "Article not found in workspace")


@query(args={"workspaceId": v.id("workspaces")})
async def list_(ctx, args):
    """The enabled buttons, in order (public: the widget shows them)."""
    buttons = await _buttons(ctx, args["workspaceId"], visitor_view=True)
    return [button for button in buttons if button["enabled"]]


@query(args={"workspaceId": v.id("workspaces")})
async def listAll(ctx, args):
    """Every button, disabled ones included (``settings.workspace``; otherwise empty)."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return []
    return await _buttons(ctx, args["workspaceId"], visitor_view=False)


@query(args={"id": v.id("commonIssueButtons")})
async def get(ctx, args):
    """One button (``settings.workspace``), or null."""
    button = await ctx.db.get(args["id"])
    if button is None or await agent_with_permission(ctx, button["workspaceId"], "settings.workspace") is None:
        return None
    return button


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "label": v.string(),
        "action": _ACTION,
        "articleId": v.optional(v.id("articles")),
        "conversationStarter": v.optional(v.string()),
        "enabled": v.boolean(),
    }
)
async def create(ctx, args):
    """Add a button at the end of the list."""
    await require_user(ctx)
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    _check_action(args["action"], args)
    await _check_article(ctx, args["workspaceId"], args.get("articleId"))
    existing = await _buttons(ctx, args["workspaceId"], visitor_view=False)
    now = now_ms()
    return await ctx.db.insert(
        "commonIssueButtons",
        {
            **{key: args[key] for key in ("workspaceId", "label", "action", "articleId", "conversationStarter",
                                          "enabled") if key in args},
            "order": max((row["order"] for row in existing), default=-1.0) + 1.0,
            "createdAt": now,
            "updatedAt": now,
        },
    )  # fmt: skip


@mutation(
    args={
        "id": v.id("commonIssueButtons"),
        "label": v.optional(v.string()),
        "action": v.optional(_ACTION),
        "articleId": v.optional(v.id("articles")),
        "conversationStarter": v.optional(v.string()),
        "enabled": v.optional(v.boolean()),
    }
)
async def update(ctx, args):
    """Change a button's label, action, target or switch."""
    button = await _button_admin(ctx, args["id"])
    fields = {
        key: args[key] for key in ("label", "action", "articleId", "conversationStarter", "enabled") if key in args
    }
    merged = {**button, **fields}
    _check_action(merged["action"], merged)
    await _check_article(ctx, button["workspaceId"], fields.get("articleId"))
    await ctx.db.patch(button["_id"], {**fields, "updatedAt": now_ms()})
    return button["_id"]


@mutation(args={"id": v.id("commonIssueButtons")})
async def remove(ctx, args):
    """Delete a button."""
    button = await _button_admin(ctx, args["id"])
    await ctx.db.delete(button["_id"])
    return None


@mutation(args={"workspaceId": v.id("workspaces"), "buttonIds": v.array(v.id("commonIssueButtons"))})
async def reorder(ctx, args):
    """Number the listed buttons 0, 1, 2, ... in the given order."""
    await require_user(ctx)
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    for button_id in args["buttonIds"]:
        button = await ctx.db.get(button_id)
        if button is None or button["workspaceId"] != args["workspaceId"]:
            fail(NOT_AUTHORIZED, "Button does not belong to workspace")
    now = now_ms()
    for position, button_id in enumerate(args["buttonIds"]):
        await ctx.db.patch(button_id, {"order": float(position), "updatedAt": now})
    return None
