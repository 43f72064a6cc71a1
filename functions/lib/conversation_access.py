"""Who may read or act on one conversation: its workspace's agents, or the visitor who owns it.

Agents are recognised first (a signed-in caller takes the agent path and any token is ignored);
otherwise the caller must present a widget session token of the conversation's workspace that
stands for the conversation's visitor, or name that visitor on a connection that proved one of its
sessions (``sessions.connection_session``). A bare visitor id is never proof of ownership.
"""

from typing import Any

from .errors import NOT_AUTHORIZED, fail, not_found
from .identity import Doc, current_user
from .permissions import agent_with_permission, require_permission
from .sessions import connection_session, resolve_visitor


async def owning_visitor(
    ctx: Any,
    conversation: Doc,
    session_token: str | None,
    visitor_id: str | None = None,
    *,
    refusal: str = "Not authorized",
) -> str:
    """The visitor id of a session that owns ``conversation``; session errors or ``refusal`` otherwise."""
    resolved = await resolve_visitor(ctx, session_token, conversation["workspaceId"], visitor_id)
    if conversation.get("visitorId") != resolved:
        fail(NOT_AUTHORIZED, refusal)
    return resolved


async def may_read_conversation(
    ctx: Any, conversation: Doc, session_token: str | None, visitor_id: str | None = None
) -> bool:
    """Whether the caller may read ``conversation`` (agents need ``conversations.read``).

    Session problems (expired, foreign or unknown token) are raised so the widget can re-boot.
    """
    if await current_user(ctx) is not None:
        return await agent_with_permission(ctx, conversation["workspaceId"], "conversations.read") is not None
    if not session_token:
        if visitor_id is None:
            return False
        session = await connection_session(ctx, conversation["workspaceId"], visitor_id)
        return session is not None and conversation.get("visitorId") == session["visitorId"]
    resolved = await resolve_visitor(ctx, session_token, conversation["workspaceId"], visitor_id)
    return conversation.get("visitorId") == resolved


async def conversation_for_reader(
    ctx: Any, conversation_id: str, session_token: str | None, visitor_id: str | None = None
) -> Doc:
    """The conversation, for an agent with ``conversations.read`` or a session that owns it; refused otherwise."""
    conversation = await ctx.db.get(conversation_id)
    if conversation is None:
        not_found("Conversation")
    if await current_user(ctx) is not None:
        await require_permission(ctx, conversation["workspaceId"], "conversations.read")
    else:
        await owning_visitor(ctx, conversation, session_token, visitor_id)
    return conversation
