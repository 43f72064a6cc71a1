"""Who hears of a ticket's changes (Opencom's ticket emitters): the visitor of status changes, a
resolution and agents' public comments; the assignee of an assignment; the assignee (else every
member) of the visitor's comments. Internal comments tell no one. Each goes through
``notifications``, so agents' preferences apply and bursts on one ticket are debounced.
"""

from typing import Any

from .identity import Doc
from .notifications import PREVIEW, notify_agents, notify_visitor


async def _visitor(ctx: Any, ticket: Doc) -> Doc | None:
    return await ctx.db.get(ticket["visitorId"]) if ticket.get("visitorId") else None


async def on_status_change(ctx: Any, ticket: Doc, status: str, actor_user_id: str, summary: str | None = None) -> None:
    """The ticket moved to ``status`` (``summary``: a resolution's): its visitor is told."""
    visitor = await _visitor(ctx, ticket)
    if visitor is None or status == ticket["status"]:
        return
    if status == "resolved":
        body = summary[:PREVIEW] if summary else f'Your ticket "{ticket["subject"]}" was resolved.'
        event, title = "ticket_resolved", "Ticket resolved"
    else:
        body = f'Your ticket "{ticket["subject"]}" moved to {status.replace("_", " ")}.'
        event, title = "ticket_status_changed", "Ticket update"
    await notify_visitor(ctx, visitor, event, f"ticket:{ticket['_id']}", title, body, actor_user_id=actor_user_id,
                         domain="ticket", ticketId=ticket["_id"])  # fmt: skip


async def on_assigned(ctx: Any, ticket: Doc, assignee_id: str, actor_user_id: str) -> None:
    """A (new) assignee hears of the ticket, unless they assigned it to themselves."""
    if assignee_id == ticket.get("assigneeId"):
        return
    await notify_agents(ctx, ticket["workspaceId"], "ticket_assigned", f"ticket:{ticket['_id']}:assigned", "Ticket assigned",
                        f"You've been assigned a ticket: {ticket['subject']}", only=[assignee_id],
                        actor_user_id=actor_user_id, domain="ticket", actorType="agent", ticketId=ticket["_id"])  # fmt: skip


async def on_comment(ctx: Any, ticket: Doc, comment: Doc) -> None:
    """A public comment: an agent's reaches the visitor, the visitor's reaches the assignee (else every member)."""
    if comment["isInternal"]:
        return
    scope = f"ticket:{ticket['_id']}"
    if comment["authorType"] == "agent":
        visitor = await _visitor(ctx, ticket)
        if visitor is not None:
            await notify_visitor(ctx, visitor, "ticket_comment", scope, "Ticket update", comment["content"],
                                 actor_user_id=comment["authorId"], domain="ticket", ticketId=ticket["_id"])  # fmt: skip
        return
    assignee = ticket.get("assigneeId")
    await notify_agents(ctx, ticket["workspaceId"], "ticket_customer_reply", scope, "Customer replied to ticket",
                        f"Reply to {ticket['subject']}: {comment['content']}", only=[assignee] if assignee else None,
                        domain="ticket", actorType="visitor", actorVisitorId=comment["authorId"], ticketId=ticket["_id"])  # fmt: skip
