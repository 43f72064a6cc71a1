"""Who may read the help center, and what each reader sees.

Three kinds of reader:
- an agent holding ``articles.read`` in the workspace sees every article and collection;
- the public (anyone else, signed in elsewhere or not) sees published public articles, and only
  while the workspace's ``helpCenterAccessPolicy`` is ``public`` (the default);
- a widget visitor, proven by a session token of the workspace, sees published public articles
  whatever the policy (the policy gates the open web, not the signed-in messenger).

Articles that carry ``audienceRules`` are targeted content: until the audience engine evaluates
rules for a visitor, they are kept off the public and visitor surfaces rather than shown to
everyone (agents still see them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runtime import v

from .errors import ALREADY_EXISTS, NOT_AUTHORIZED, fail
from .identity import Doc, current_user
from .permissions import Agent, agent_with_permission, require_permission
from .sessions import resolve_session

READ = "articles.read"
# The arguments of every widget help-center read (the widget always sends all three).
WIDGET_VISITOR_ARGS = {
    "workspaceId": v.id("workspaces"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}
PUBLIC = "public"
MAX_SLUG_ATTEMPTS = 100


@dataclass(frozen=True)
class Reader:
    """A caller allowed to read a workspace's help center; ``agent`` is None for the public."""

    agent: Agent | None

    @property
    def is_agent(self) -> bool:
        return self.agent is not None


def policy_of(workspace: Doc | None) -> str:
    """The workspace's help-center access policy (``public`` unless set to ``restricted``)."""
    return (workspace or {}).get("helpCenterAccessPolicy") or PUBLIC


def visitor_readable(article: Doc) -> bool:
    """Whether the article may be shown outside the dashboard: published, public, not audience-targeted."""
    return (
        article["status"] == "published"
        and article.get("visibility", PUBLIC) == PUBLIC
        and article.get("audienceRules") is None
    )


async def help_center_reader(ctx: Any, workspace_id: str) -> Reader | None:
    """The caller as a reader of ``workspace_id``'s help center, or None when it may not read it."""
    agent = await agent_with_permission(ctx, workspace_id, READ)
    if agent is not None:
        return Reader(agent)
    workspace = await ctx.db.get(workspace_id)
    if workspace is None or policy_of(workspace) != PUBLIC:
        return None
    return Reader(None)


async def widget_visitor(ctx: Any, workspace_id: str, visitor_id: str | None, session_token: str | None) -> Doc | None:
    """The visitor whose view of the help center the widget asks for, or None (show nothing).

    A signed-in caller takes the agent path (any token is ignored, as for conversations): holding
    ``articles.read`` it may preview the view of a visitor it names. Anyone else needs a live session token of the workspace; a ``visitor_id`` they name must be its own.
    """
    if await current_user(ctx) is not None:
        await require_permission(ctx, workspace_id, READ)
        if visitor_id is None:
            return None
        resolved = visitor_id
    else:
        session = await resolve_session(ctx, session_token, workspace_id)
        if visitor_id is not None and visitor_id != session["visitorId"]:
            fail(NOT_AUTHORIZED, "Not authorized to read articles for this visitor")
        resolved = session["visitorId"]
    visitor = await ctx.db.get(resolved)
    if visitor is None or visitor["workspaceId"] != workspace_id:
        return None
    return visitor


def generate_slug(text: str, fallback: str) -> str:
    """Lower-case ASCII letters and digits joined by single dashes (``fallback`` when none remain)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or fallback


async def unique_slug(ctx: Any, table: str, workspace_id: str, base: str, exclude_id: str | None = None) -> str:
    """``base``, or ``base-1``, ``base-2``, ... whichever no other row of ``table`` in the workspace holds."""
    slug = base
    for counter in range(1, MAX_SLUG_ATTEMPTS + 1):
        taken = await (
            ctx.db.query(table)
            .with_index("by_slug", lambda q, s=slug: q.eq("workspaceId", workspace_id).eq("slug", s))
            .first()
        )
        if taken is None or taken["_id"] == exclude_id:
            return slug
        slug = f"{base}-{counter}"
    fail(ALREADY_EXISTS, f"Could not generate a unique slug after {MAX_SLUG_ATTEMPTS} attempts")
