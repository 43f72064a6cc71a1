"""Roles, permissions and workspace membership: the agent half of every authorisation decision.

A member's effective permissions are its custom ``permissions`` list when that list is non-empty,
otherwise its role's defaults (auth-and-permissions §2). ``require_permission`` is the strict
check for mutations; ``agent_with_permission`` is the soft one for queries that answer null or
an empty list to callers who may not look.
"""

from dataclasses import dataclass
from typing import Any

from .errors import NOT_WORKSPACE_MEMBER, PERMISSION_DENIED, fail
from .identity import Doc, current_user, require_user

PERMISSIONS = (
    "conversations.read", "conversations.reply", "conversations.assign", "conversations.close",
    "conversations.delete", "users.read", "users.invite", "users.manage", "users.remove", "articles.read",
    "articles.create", "articles.publish", "articles.delete", "snippets.manage", "tours.manage",
    "checklists.manage", "settings.workspace", "settings.security", "settings.integrations",
    "settings.billing", "data.export", "data.delete", "audit.read",
)  # fmt: skip

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(PERMISSIONS),
    "admin": frozenset(PERMISSIONS) - {"settings.billing"},
    "agent": frozenset(
        {
            "conversations.read",
            "conversations.reply",
            "conversations.assign",
            "conversations.close",
            "users.read",
            "articles.read",
            "snippets.manage",
            "checklists.manage",
        }
    ),
    "viewer": frozenset({"conversations.read", "users.read", "articles.read", "audit.read"}),
}


@dataclass(frozen=True)
class Agent:
    """A signed-in user acting inside one workspace through its membership."""

    user: Doc
    membership: Doc

    @property
    def id(self) -> str:
        return self.user["_id"]

    @property
    def role(self) -> str:
        return self.membership["role"]

    def can(self, permission: str) -> bool:
        return permission in permissions_of(self.membership)


def permissions_of(membership: Doc) -> frozenset[str]:
    """The effective permission set of a membership row."""
    custom = membership.get("permissions")
    if custom:
        return frozenset(custom)
    return ROLE_PERMISSIONS.get(membership["role"], frozenset())


async def find_membership(ctx: Any, user_id: str, workspace_id: str) -> Doc | None:
    """The first membership of ``user_id`` in ``workspace_id`` (Opencom's "first match wins")."""
    return await (
        ctx.db.query("workspaceMembers")
        .with_index("by_user_workspace", lambda q: q.eq("userId", user_id).eq("workspaceId", workspace_id))
        .first()
    )


async def require_member(ctx: Any, workspace_id: str) -> Agent:
    """The signed-in caller as a member of ``workspace_id``; refuses anonymous callers and non-members."""
    user = await require_user(ctx)
    membership = await find_membership(ctx, user["_id"], workspace_id)
    if membership is None:
        fail(NOT_WORKSPACE_MEMBER, "Not a member of this workspace")
    return Agent(user, membership)


async def require_permission(ctx: Any, workspace_id: str, permission: str) -> Agent:
    """The signed-in caller holding ``permission`` in ``workspace_id``, or Opencom's refusal."""
    agent = await require_member(ctx, workspace_id)
    if not agent.can(permission):
        fail(PERMISSION_DENIED, f"Permission denied: {permission}")
    return agent


async def signed_in_member(ctx: Any, workspace_id: str) -> Agent | None:
    """The signed-in caller's membership in ``workspace_id``, or None."""
    user = await current_user(ctx)
    if user is None:
        return None
    membership = await find_membership(ctx, user["_id"], workspace_id)
    return Agent(user, membership) if membership is not None else None


async def agent_with_permission(ctx: Any, workspace_id: str, permission: str) -> Agent | None:
    """Like ``require_permission`` but None instead of an error (for null/empty answers)."""
    agent = await signed_in_member(ctx, workspace_id)
    return agent if agent is not None and agent.can(permission) else None
