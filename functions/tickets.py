"""Tickets: longer-running requests a visitor files from the widget or an agent opens from the inbox.

Access follows conversations: agents act with ``conversations.read`` (reading) or
``conversations.reply`` (writing) in the ticket's workspace; a visitor reaches only tickets it
filed, through its widget session token. Status moves freely between submitted, in_progress,
waiting_on_customer and resolved; every move to resolved stamps ``resolvedAt``. A ticket, or a
comment, may carry up to five of its author's staged uploads.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib import ticket_notifications
from .lib.actors import Actor, workspace_actor
from .lib.attachments import bind_staged, with_attachments
from .lib.clock import now_ms
from .lib.errors import ALREADY_EXISTS, INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import Doc, current_user, require_user
from .lib.notifications import notify_agents
from .lib.permissions import agent_with_permission, find_membership, require_permission
from .lib.sessions import resolve_visitor
from .lib.ticket_views import comments_of, detail, listing

STATUS = v.union(*(v.literal(s) for s in ("submitted", "in_progress", "waiting_on_customer", "resolved")))
PRIORITY = v.union(*(v.literal(p) for p in ("low", "normal", "high", "urgent")))
FORM_DATA = v.record(v.string(), v.union(v.string(), v.number(), v.boolean(), v.null(), v.array(v.string())))
ATTACHMENTS = v.optional(v.array(v.id("supportAttachments")))
_VISITOR_ARGS = {"visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())}
TICKET_LIST_LIMIT = 500  # newest tickets one list answers (Opencom: all)


async def _ticket(ctx: Any, ticket_id: str) -> Doc:
    ticket = await ctx.db.get(ticket_id)
    if ticket is None:
        not_found("Ticket")
    return ticket


async def _reader(ctx: Any, ticket: Doc, args: Doc) -> Actor | None:
    """Who may read ``ticket``: an agent with ``conversations.read``, or the visitor who filed it.

    Session problems (unknown, foreign or expired tokens) are raised so the widget can re-boot;
    a caller who simply may not look gets None.
    """
    if await current_user(ctx) is not None:
        agent = await agent_with_permission(ctx, ticket["workspaceId"], "conversations.read")
        return Actor("agent", agent.id) if agent is not None else None
    if not args.get("sessionToken"):
        return None
    visitor_id = await resolve_visitor(ctx, args["sessionToken"], ticket["workspaceId"], args.get("visitorId"))
    return Actor("visitor", visitor_id) if ticket.get("visitorId") == visitor_id else None


async def _visitor_in(ctx: Any, workspace_id: str, visitor_id: str) -> None:
    visitor = await ctx.db.get(visitor_id)
    if visitor is None or visitor["workspaceId"] != workspace_id:
        fail(INVALID_INPUT, "Visitor not found in workspace")


async def _agent_on(ctx: Any, ticket_id: str) -> tuple[Doc, str]:
    await require_user(ctx)
    ticket = await _ticket(ctx, ticket_id)
    return ticket, (await require_permission(ctx, ticket["workspaceId"], "conversations.reply")).id


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        **_VISITOR_ARGS,
        "subject": v.string(),
        "description": v.optional(v.string()),
        "attachmentIds": ATTACHMENTS,
        "priority": v.optional(PRIORITY),
        "formId": v.optional(v.id("ticketForms")),
        "formData": v.optional(FORM_DATA),
    }
)
async def create(ctx, args):
    """File a ticket: the session's visitor for itself, or an agent (``conversations.reply``); returns its id."""
    workspace_id = args["workspaceId"]
    actor = await workspace_actor(
        ctx, workspace_id, args.get("sessionToken"), args.get("visitorId"), "conversations.reply"
    )
    visitor_id = args.get("visitorId") if actor.is_agent else actor.id
    if visitor_id is not None:
        await _visitor_in(ctx, workspace_id, visitor_id)
    if not args["subject"].strip():
        fail(INVALID_INPUT, "Subject is required")
    if "formId" in args:
        form = await ctx.db.get(args["formId"])
        if form is None or form["workspaceId"] != workspace_id:
            fail(INVALID_INPUT, "Ticket form not found in workspace")
    now = now_ms()
    ticket_id = await ctx.db.insert(
        "tickets",
        {
            "workspaceId": workspace_id,
            "visitorId": visitor_id if visitor_id is not None else UNDEFINED,
            "subject": args["subject"],
            "description": args.get("description", UNDEFINED),
            "status": "submitted",
            "priority": args.get("priority", "normal"),
            "formId": args.get("formId", UNDEFINED),
            "formData": args.get("formData", UNDEFINED),
            "createdAt": now,
            "updatedAt": now,
        },
    )
    attached = await bind_staged(ctx, workspace_id, args.get("attachmentIds"), actor, "ticket", ticket_id)
    if attached:
        await ctx.db.patch(ticket_id, {"attachmentIds": attached})
    await notify_agents(
        ctx, workspace_id, "ticket_created", f"ticket:{ticket_id}", "New ticket", args["subject"], domain="ticket",
        actorType="visitor" if visitor_id is not None else "agent", ticketId=ticket_id,
    )  # fmt: skip
    return ticket_id


@query(args={"id": v.id("tickets"), **_VISITOR_ARGS})
async def get(ctx, args):
    """The ticket with its visitor, assignee, conversation and (for its visitor: public) comments, or null."""
    ticket = await ctx.db.get(args["id"])
    if ticket is None:
        return None
    reader = await _reader(ctx, ticket, args)
    return await detail(ctx, ticket, reader) if reader is not None else None


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "status": v.optional(STATUS),
        "assigneeId": v.optional(v.id("users")),
    }
)
async def list_(ctx, args):
    """The workspace's newest 500 tickets, by status or assignee (``conversations.read``)."""
    await require_user(ctx)
    agent = await require_permission(ctx, args["workspaceId"], "conversations.read")
    return await listing(ctx, await _newest_tickets(ctx, args), Actor("agent", agent.id))


async def _newest_tickets(ctx: Any, args: Doc) -> list[Doc]:
    """The newest ``TICKET_LIST_LIMIT`` tickets of the workspace, by status or assignee when asked."""
    workspace_id = args["workspaceId"]
    if "status" in args:
        source = ctx.db.query("tickets").with_index(
            "by_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", args["status"])
        )
    elif "assigneeId" in args:
        source = ctx.db.query("tickets").with_index(
            "by_assignee", lambda q: q.eq("workspaceId", workspace_id).eq("assigneeId", args["assigneeId"])
        )
    else:
        source = ctx.db.query("tickets").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
    return await source.order("desc").take(TICKET_LIST_LIMIT)


async def _admin_reader(ctx: Any, workspace_id: str) -> tuple[str, Actor | None]:
    """``("ok", agent)`` for a member with ``conversations.read``; why not otherwise."""
    user = await current_user(ctx)
    if user is None:
        return "unauthenticated", None
    agent = await agent_with_permission(ctx, workspace_id, "conversations.read")
    return ("ok", Actor("agent", agent.id)) if agent is not None else ("forbidden", None)


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(STATUS), "assigneeId": v.optional(v.id("users"))})
async def listForAdminView(ctx, args):
    """``{status, tickets}`` for the dashboard's tickets page; status says why the list is empty."""
    status, reader = await _admin_reader(ctx, args["workspaceId"])
    if reader is None:
        return {"status": status, "tickets": []}
    return {"status": "ok", "tickets": await listing(ctx, await _newest_tickets(ctx, args), reader)}


@query(args={"id": v.id("tickets")})
async def getForAdminView(ctx, args):
    """``{status, ticket}``: one ticket in full for the dashboard (``not_found``/``forbidden`` otherwise)."""
    ticket = await ctx.db.get(args["id"])
    if ticket is None:
        return {"status": "not_found", "ticket": None}
    status, reader = await _admin_reader(ctx, ticket["workspaceId"])
    if reader is None:
        return {"status": status, "ticket": None}
    return {"status": "ok", "ticket": await detail(ctx, ticket, reader)}


@mutation(
    args={
        "id": v.id("tickets"),
        "status": v.optional(STATUS),
        "priority": v.optional(PRIORITY),
        "assigneeId": v.optional(v.id("users")),
        "teamId": v.optional(v.string()),
    }
)
async def update(ctx, args):
    """Change status, priority, assignee (a member of the workspace) or team (``conversations.reply``)."""
    ticket, agent_id = await _agent_on(ctx, args["id"])
    if "assigneeId" in args and await find_membership(ctx, args["assigneeId"], ticket["workspaceId"]) is None:
        fail(INVALID_INPUT, "Assignee is not a member of this workspace")
    now = now_ms()
    fields = {key: args[key] for key in ("status", "priority", "assigneeId", "teamId") if key in args}
    if args.get("status") == "resolved":
        fields["resolvedAt"] = now
    await ctx.db.patch(ticket["_id"], {**fields, "updatedAt": now})
    if "status" in args:
        await ticket_notifications.on_status_change(ctx, ticket, args["status"], agent_id)
    if "assigneeId" in args:
        await ticket_notifications.on_assigned(ctx, ticket, args["assigneeId"], agent_id)
    return ticket["_id"]


@mutation(args={"id": v.id("tickets"), "resolutionSummary": v.optional(v.string())})
async def resolve(ctx, args):
    """Resolve the ticket; a summary is kept and posted as a public system comment."""
    ticket, agent_id = await _agent_on(ctx, args["id"])
    now = now_ms()
    summary = args.get("resolutionSummary")
    await ticket_notifications.on_status_change(ctx, ticket, "resolved", agent_id, summary)
    await ctx.db.patch(
        ticket["_id"],
        {"status": "resolved", "resolutionSummary": summary if summary is not None else UNDEFINED,
         "resolvedAt": now, "updatedAt": now},
    )  # fmt: skip
    if summary:
        await ctx.db.insert(
            "ticketComments",
            {"ticketId": ticket["_id"], "authorId": "system", "authorType": "system",
             "content": f"Ticket resolved: {summary}", "isInternal": False, "createdAt": now},
        )  # fmt: skip
    return ticket["_id"]


@mutation(
    args={
        "conversationId": v.id("conversations"),
        "subject": v.optional(v.string()),
        "priority": v.optional(PRIORITY),
    }
)
async def convertFromConversation(ctx, args):
    """Open a ticket for a conversation's visitor from the inbox (one ticket per conversation)."""
    await require_user(ctx)
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        not_found("Conversation")
    await require_permission(ctx, conversation["workspaceId"], "conversations.reply")
    existing = (
        await ctx.db.query("tickets")
        .with_index("by_conversation", lambda q: q.eq("conversationId", conversation["_id"]))
        .first()
    )
    if existing is not None:
        fail(ALREADY_EXISTS, "A ticket already exists for this conversation")
    now = now_ms()
    return await ctx.db.insert(
        "tickets",
        {
            "workspaceId": conversation["workspaceId"],
            "conversationId": conversation["_id"],
            "visitorId": conversation.get("visitorId", UNDEFINED),
            "subject": args.get("subject") or conversation.get("subject") or "Ticket from conversation",
            "status": "submitted",
            "priority": args.get("priority", "normal"),
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(
    args={
        "ticketId": v.id("tickets"),
        **_VISITOR_ARGS,
        "content": v.string(),
        "attachmentIds": ATTACHMENTS,
        "isInternal": v.optional(v.boolean()),
        "authorId": v.optional(v.string()),
        "authorType": v.optional(v.union(v.literal("agent"), v.literal("visitor"), v.literal("system"))),
    }
)
async def addComment(ctx, args):
    """Comment as an agent (``conversations.reply``; may be internal) or as the ticket's visitor; returns its id.

    The author is always the caller: ``authorId``/``authorType`` are accepted for Opencom's shape only.
    """
    ticket = await _ticket(ctx, args["ticketId"])
    actor = await workspace_actor(
        ctx, ticket["workspaceId"], args.get("sessionToken"), args.get("visitorId"), "conversations.reply"
    )
    if not actor.is_agent and ticket.get("visitorId") != actor.id:
        fail(NOT_AUTHORIZED, "Not authorized to comment on this ticket")
    now = now_ms()
    comment = {
        "ticketId": ticket["_id"],
        "authorId": actor.id,
        "authorType": actor.kind,
        "content": args["content"],
        "isInternal": bool(args.get("isInternal")) and actor.is_agent,
        "createdAt": now,
    }
    comment_id = await ctx.db.insert("ticketComments", comment)
    await ticket_notifications.on_comment(ctx, ticket, comment)
    attached = await bind_staged(
        ctx, ticket["workspaceId"], args.get("attachmentIds"), actor, "ticketComment", comment_id
    )
    if attached:
        await ctx.db.patch(comment_id, {"attachmentIds": attached})
    await ctx.db.patch(ticket["_id"], {"updatedAt": now})
    return comment_id


@query(args={"workspaceId": v.id("workspaces"), **_VISITOR_ARGS})
async def listByVisitor(ctx, args):
    """The session visitor's tickets, newest first (an agent names the visitor with ``visitorId``)."""
    workspace_id = args["workspaceId"]
    if await current_user(ctx) is not None:
        await require_permission(ctx, workspace_id, "conversations.read")
        visitor_id = args.get("visitorId")
    elif args.get("sessionToken"):
        visitor_id = await resolve_visitor(ctx, args["sessionToken"], workspace_id, args.get("visitorId"))
    else:
        return []
    if visitor_id is None:
        return []
    await _visitor_in(ctx, workspace_id, visitor_id)
    tickets = (
        await ctx.db.query("tickets")
        .with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id))
        .order("desc")
        .collect()
    )
    return await with_attachments(ctx, [ticket for ticket in tickets if ticket["workspaceId"] == workspace_id])


@query(args={"ticketId": v.id("tickets"), "includeInternal": v.optional(v.boolean()), **_VISITOR_ARGS})
async def getComments(ctx, args):
    """The comments its reader may see, oldest first (internal ones for agents asking for them)."""
    ticket = await ctx.db.get(args["ticketId"])
    reader = await _reader(ctx, ticket, args) if ticket is not None else None
    if reader is None:
        return []
    return await comments_of(ctx, ticket["_id"], reader, include_internal=bool(args.get("includeInternal")))
