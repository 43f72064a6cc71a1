"""Which visitor a widget-facing engagement call acts for: the session's, or one an agent names.

The widget sends ``{workspaceId, sessionToken, visitorId?}``; the session token is the proof, and a
``visitorId`` it names must be the session's own. A signed-in agent (previewing in the dashboard)
takes the agent path instead: it needs the module's permission and must name a visitor of the
workspace. Queries answer empty values instead of throwing, because the widget unmounts on a
failing query; mutations refuse with coded errors.
"""

from typing import Any

from .errors import NOT_AUTHORIZED, NOT_FOUND, fail
from .identity import Doc, current_user
from .permissions import agent_with_permission, require_permission
from .sessions import live_session, resolve_visitor


async def _workspace_visitor(ctx: Any, visitor_id: str | None, workspace_id: str) -> Doc | None:
    visitor = await ctx.db.get(visitor_id) if visitor_id else None
    return visitor if visitor is not None and visitor["workspaceId"] == workspace_id else None


async def acting_visitor(ctx: Any, args: dict, permission: str, *, what: str = "access") -> Doc:
    """The visitor a mutation acts for (see module doc); coded refusals otherwise."""
    workspace_id = args["workspaceId"]
    if await current_user(ctx) is not None:
        await require_permission(ctx, workspace_id, permission)
        if not args.get("visitorId"):
            fail(NOT_AUTHORIZED, f"visitorId is required for authenticated {what}")
        visitor = await _workspace_visitor(ctx, args["visitorId"], workspace_id)
    else:
        visitor_id = await resolve_visitor(ctx, args.get("sessionToken"), workspace_id, args.get("visitorId"))
        visitor = await _workspace_visitor(ctx, visitor_id, workspace_id)
    if visitor is None:
        fail(NOT_FOUND, "Visitor not found in workspace")
    return visitor


async def viewing_visitor(ctx: Any, args: dict, permission: str) -> Doc | None:
    """The visitor a query shows items for, or None when the caller may not see any."""
    workspace_id = args["workspaceId"]
    if await current_user(ctx) is not None:
        if await agent_with_permission(ctx, workspace_id, permission) is None:
            return None
        return await _workspace_visitor(ctx, args.get("visitorId"), workspace_id)
    session = await live_session(ctx, args.get("sessionToken"))
    if session is None or session["workspaceId"] != workspace_id:
        return None
    if args.get("visitorId") not in (None, session["visitorId"]):
        return None
    return await _workspace_visitor(ctx, session["visitorId"], workspace_id)
