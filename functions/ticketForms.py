"""Ticket forms: the fields the widget asks for when a visitor files a ticket.

At most one form per workspace is the default (making another the default unsets it). The widget
reads the default form (or the first one) with no sign-in; everything else needs
``settings.workspace``. A form that tickets use cannot be deleted.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import Doc, require_user
from .lib.permissions import agent_with_permission, require_permission

_FIELD = v.object(
    {
        "id": v.string(),
        "type": v.union(*(v.literal(t) for t in ("text", "textarea", "select", "multi-select", "number", "date"))),
        "label": v.string(),
        "placeholder": v.optional(v.string()),
        "required": v.boolean(),
        "options": v.optional(v.array(v.string())),
    }
)


def _forms(ctx: Any, workspace_id: str) -> Any:
    return ctx.db.query("ticketForms").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))


async def _default_form(ctx: Any, workspace_id: str) -> Doc | None:
    return await (
        ctx.db.query("ticketForms")
        .with_index("by_workspace_default", lambda q: q.eq("workspaceId", workspace_id).eq("isDefault", True))
        .first()
    )


async def _unset_default(ctx: Any, workspace_id: str, now: float) -> None:
    current = await _default_form(ctx, workspace_id)
    if current is not None:
        await ctx.db.patch(current["_id"], {"isDefault": False, "updatedAt": now})


async def _form_admin(ctx: Any, form_id: str) -> Doc:
    form = await ctx.db.get(form_id)
    if form is None:
        not_found("Ticket form")
    await require_user(ctx)
    await require_permission(ctx, form["workspaceId"], "settings.workspace")
    return form


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "description": v.optional(v.string()),
        "fields": v.array(_FIELD),
        "isDefault": v.optional(v.boolean()),
    }
)
async def create(ctx, args):
    """Add a form; ``isDefault`` makes it the workspace's default."""
    await require_user(ctx)
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    now = now_ms()
    if args.get("isDefault"):
        await _unset_default(ctx, args["workspaceId"], now)
    return await ctx.db.insert(
        "ticketForms",
        {
            **{key: args[key] for key in ("workspaceId", "name", "description", "fields") if key in args},
            "isDefault": bool(args.get("isDefault")),
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(
    args={
        "id": v.id("ticketForms"),
        "name": v.optional(v.string()),
        "description": v.optional(v.string()),
        "fields": v.optional(v.array(_FIELD)),
        "isDefault": v.optional(v.boolean()),
    }
)
async def update(ctx, args):
    """Change a form; making it the default unsets the previous default."""
    form = await _form_admin(ctx, args["id"])
    now = now_ms()
    fields = {key: args[key] for key in ("name", "description", "fields", "isDefault") if key in args}
    if args.get("isDefault") and not form["isDefault"]:
        await _unset_default(ctx, form["workspaceId"], now)
    await ctx.db.patch(form["_id"], {**fields, "updatedAt": now})
    return form["_id"]


@query(args={"workspaceId": v.id("workspaces")})
async def list_(ctx, args):
    """The workspace's forms (``settings.workspace``; otherwise empty)."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return []
    return await _forms(ctx, args["workspaceId"]).collect()


@query(args={"id": v.id("ticketForms")})
async def get(ctx, args):
    """One form (``settings.workspace``), or null."""
    form = await ctx.db.get(args["id"])
    if form is None or await agent_with_permission(ctx, form["workspaceId"], "settings.workspace") is None:
        return None
    return form


@query(args={"workspaceId": v.id("workspaces")})
async def getDefault(ctx, args):
    """The default form (``settings.workspace``), or null."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return None
    return await _default_form(ctx, args["workspaceId"])


@query(args={"workspaceId": v.id("workspaces")})
async def getDefaultForVisitor(ctx, args):
    """The form the widget shows: the default one, else the first one, else null (public)."""
    form = await _default_form(ctx, args["workspaceId"])
    if form is not None:
        return form
    return await _forms(ctx, args["workspaceId"]).first()


@mutation(args={"id": v.id("ticketForms")})
async def remove(ctx, args):
    """Delete a form no ticket uses."""
    form = await _form_admin(ctx, args["id"])
    tickets = ctx.db.query("tickets").with_index("by_workspace", lambda q: q.eq("workspaceId", form["workspaceId"]))
    async for ticket in tickets:
        if ticket.get("formId") == form["_id"]:
            fail(INVALID_INPUT, "Cannot delete form that is in use by tickets")
    await ctx.db.delete(form["_id"])
    return form["_id"]
