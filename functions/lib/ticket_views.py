"""What a ticket looks like to whoever reads it.

Agents see every comment, the visitor's record and the assignee's profile; the visitor who filed
the ticket sees the public comments only and the assignee's name and avatar. A user row is never
returned whole (it holds sign-in secrets). Every ticket and comment carries ``attachments``.
"""

from typing import Any

from .actors import Actor
from .attachments import with_attachments
from .identity import Doc

_AGENT_PROFILE = ("_id", "name", "email", "avatarUrl", "image")
_VISITOR_PROFILE = ("_id", "name", "avatarUrl", "image")


async def profile(ctx: Any, user_id: str | None, reader: Actor) -> Doc | None:
    """The public fields of a user, as ``reader`` may see them, or None."""
    user = await ctx.db.get(user_id) if user_id else None
    if user is None:
        return None
    fields = _AGENT_PROFILE if reader.is_agent else _VISITOR_PROFILE
    return {key: user[key] for key in fields if key in user}


async def comments_of(ctx: Any, ticket_id: str, reader: Actor, include_internal: bool = True) -> list[Doc]:
    """The ticket's comments, oldest first; internal ones only for agents who ask for them."""
    rows = await ctx.db.query("ticketComments").with_index("by_ticket", lambda q: q.eq("ticketId", ticket_id)).collect()
    visible = [row for row in rows if not row["isInternal"] or (reader.is_agent and include_internal)]
    return await with_attachments(ctx, visible)


async def detail(ctx: Any, ticket: Doc, reader: Actor) -> Doc:
    """One ticket with its visitor, assignee, conversation and comments."""
    visitor = await ctx.db.get(ticket["visitorId"]) if "visitorId" in ticket else None
    conversation = await ctx.db.get(ticket["conversationId"]) if "conversationId" in ticket else None
    [with_files] = await with_attachments(ctx, [ticket])
    return {
        **with_files,
        "visitor": visitor,
        "assignee": await profile(ctx, ticket.get("assigneeId"), reader),
        "conversation": conversation,
        "comments": await comments_of(ctx, ticket["_id"], reader),
    }


async def listing(ctx: Any, tickets: list[Doc], reader: Actor) -> list[Doc]:
    """Tickets for the inbox's list: each with its visitor and assignee."""
    rows = []
    for ticket in await with_attachments(ctx, tickets):
        visitor = await ctx.db.get(ticket["visitorId"]) if "visitorId" in ticket else None
        rows.append({**ticket, "visitor": visitor, "assignee": await profile(ctx, ticket.get("assigneeId"), reader)})
    return rows
