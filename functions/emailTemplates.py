"""Email templates: reusable HTML that campaigns wrap their content in (``settings.workspace``).

A template's ``{{content}}`` marks where a campaign's content goes; ``{{user.<field>}}`` variables
are filled in per recipient when the campaign is sent.
"""

import re

from runtime import mutation, query, v

from .lib.authoring import copy_name, managed, readable
from .lib.clock import now_ms
from .lib.identity import require_user
from .lib.permissions import agent_with_permission, require_permission

MANAGE = "settings.workspace"
FIELDS = ("name", "subject", "html", "variables", "category")
LIST_LIMIT = 500
_VARIABLE = re.compile(r"\{\{([^}]+)\}\}")
SHAPE = {
    "subject": v.optional(v.string()),
    "variables": v.optional(v.array(v.string())),
    "category": v.optional(v.string()),
}


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "html": v.string(), **SHAPE})
async def create(ctx, args):
    """Save a template; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    now = now_ms()
    fields = {field: args[field] for field in FIELDS if field in args}
    return await ctx.db.insert("emailTemplates", {"workspaceId": args["workspaceId"], **fields, "createdAt": now, "updatedAt": now})


@mutation(args={"id": v.id("emailTemplates"), "name": v.optional(v.string()), "html": v.optional(v.string()), **SHAPE})
async def update(ctx, args):
    """Overwrite the given fields; returns the id."""
    template, _ = await managed(ctx, args["id"], "Template", MANAGE)
    changes = {field: args[field] for field in FIELDS if field in args}
    await ctx.db.patch(template["_id"], {**changes, "updatedAt": now_ms()})
    return template["_id"]


@mutation(args={"id": v.id("emailTemplates")})
async def remove(ctx, args):
    """Delete the template (campaigns that used it send their content unwrapped)."""
    template, _ = await managed(ctx, args["id"], "Template", MANAGE)
    await ctx.db.delete(template["_id"])
    return None


@query(args={"workspaceId": v.id("workspaces"), "category": v.optional(v.string())})
async def list_(ctx, args):
    """The workspace's templates (of one category when given), newest first."""
    if await agent_with_permission(ctx, args["workspaceId"], MANAGE) is None:
        return []
    rows = ctx.db.query("emailTemplates").with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
    templates = await rows.order("desc").take(LIST_LIMIT)
    if "category" in args:
        templates = [template for template in templates if template.get("category") == args["category"]]
    return sorted(templates, key=lambda template: -template["createdAt"])


@query(args={"id": v.id("emailTemplates")})
async def get(ctx, args):
    """The template, or null when missing or not the caller's."""
    return await readable(ctx, args["id"], MANAGE)


@query(args={"html": v.string()})
async def extractVariables(ctx, args):
    """The distinct ``{{ name }}`` placeholders of ``html``, trimmed, in order of appearance."""
    await require_user(ctx)
    return list(dict.fromkeys(match.group(1).strip() for match in _VARIABLE.finditer(args["html"])))


@mutation(args={"id": v.id("emailTemplates")})
async def duplicate(ctx, args):
    """A copy named "<name> (Copy)"; returns its id."""
    template, _ = await managed(ctx, args["id"], "Template", MANAGE)
    now = now_ms()
    fields = {field: template[field] for field in FIELDS if field in template}
    fields["name"] = copy_name(template["name"])
    return await ctx.db.insert("emailTemplates", {"workspaceId": template["workspaceId"], **fields, "createdAt": now, "updatedAt": now})
