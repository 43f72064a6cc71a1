"""Conversations: the inbox for agents, and each visitor's own threads through its session token.

Agents act with their permissions on the conversation's workspace (read, close, assign); a
visitor reaches only conversations it owns, in the workspace its token belongs to. Status and
assignment changes are audited.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.audit import record_audit
from .lib.clock import now_ms
from .lib.conversation_access import may_read_conversation, owning_visitor
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import require_user
from .lib.inbox import inbox_page
from .lib.permissions import agent_with_permission, find_membership, require_permission
from .lib.sessions import resolve_visitor
from .lib.threads import newest_message, open_visitor_conversation
from .lib.validators import conversation_status


async def _conversation(ctx: Any, conversation_id: str) -> dict:
    conversation = await ctx.db.get(conversation_id)
    if conversation is None:
        not_found("Conversation")
    return conversation


async def _visitor_conversations(ctx: Any, workspace_id: str, visitor_id: str) -> list[dict]:
    rows = (
        await ctx.db.query("conversations").with_index("by_visitor", lambda q: q.eq("visitorId", visitor_id)).collect()
    )
    return [row for row in rows if row["workspaceId"] == workspace_id]


async def _session_visitor(ctx: Any, args: dict) -> str:
    """The visitor of the session, which must exist in the requested workspace."""
    visitor_id = await resolve_visitor(ctx, args["sessionToken"], args["workspaceId"], args.get("visitorId"))
    visitor = await ctx.db.get(visitor_id)
    if visitor is None or visitor["workspaceId"] != args["workspaceId"]:
        fail(NOT_AUTHORIZED, "Not authorized: visitor does not belong to this workspace")
    return visitor_id


CONVERSATION_LIST_LIMIT = 1000


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(conversation_status)})
async def list_(ctx, args):
    """The workspace's newest 1,000 conversations, optionally of one status (``conversations.read``).

    Opencom returns every conversation; the bound keeps the answer within the read and array
    limits at any size. The inbox pages through all of them with ``listForInbox``.
    """
    if await agent_with_permission(ctx, args["workspaceId"], "conversations.read") is None:
        return []
    if "status" in args:
        source = ctx.db.query("conversations").with_index(
            "by_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", args["status"])
        )
    else:
        source = ctx.db.query("conversations").with_index(
            "by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"])
        )
    return await source.order("desc").take(CONVERSATION_LIST_LIMIT)


@query(
    args={
        "workspaceId": v.id("workspaces"),
        "status": v.optional(conversation_status),
        "aiWorkflowState": v.optional(v.union(v.literal("ai_handled"), v.literal("handoff"))),
        "limit": v.optional(v.number()),
        "cursor": v.optional(v.union(v.string(), v.null())),
    }
)
async def listForInbox(ctx, args):
    """One inbox page, latest activity first: ``{conversations, nextCursor}`` (see ``lib/inbox``)."""
    if await agent_with_permission(ctx, args["workspaceId"], "conversations.read") is None:
        return {"conversations": [], "nextCursor": None}
    return await inbox_page(ctx, args)


@query(
    args={
        "id": v.id("conversations"),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
    }
)
async def get(ctx, args):
    """The conversation, for its workspace's agents (``conversations.read``) or its visitor's session."""
    conversation = await ctx.db.get(args["id"])
    if conversation is None:
        return None
    if not await may_read_conversation(ctx, conversation, args.get("sessionToken"), args.get("visitorId")):
        return None
    return conversation


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "visitorId": v.optional(v.id("visitors")),
        "userId": v.optional(v.id("users")),
    }
)
async def create(ctx, args):
    """Open a conversation from the inbox (``conversations.reply``); returns its id."""
    await require_permission(ctx, args["workspaceId"], "conversations.reply")
    if "visitorId" in args:
        visitor = await ctx.db.get(args["visitorId"])
        if visitor is None or visitor["workspaceId"] != args["workspaceId"]:
            fail(INVALID_INPUT, "Visitor not found in workspace")
    if "userId" in args and await find_membership(ctx, args["userId"], args["workspaceId"]) is None:
        fail(INVALID_INPUT, "User is not a member of this workspace")
    now = now_ms()
    return await ctx.db.insert(
        "conversations",
        {
            "workspaceId": args["workspaceId"],
            "visitorId": args.get("visitorId", UNDEFINED),
            "userId": args.get("userId", UNDEFINED),
            "status": "open",
            "createdAt": now,
            "updatedAt": now,
            "aiWorkflowState": "none",
        },
    )


_SESSION_ARGS = {
    "workspaceId": v.id("workspaces"),
    "sessionToken": v.string(),
    "visitorId": v.optional(v.id("visitors")),
}


@mutation(args=_SESSION_ARGS)
async def createForVisitor(ctx, args):
    """Start a new conversation for the session's visitor (with the welcome message); returns it."""
    visitor_id = await _session_visitor(ctx, args)
    return await open_visitor_conversation(ctx, args["workspaceId"], visitor_id)


@mutation(args=_SESSION_ARGS)
async def getOrCreateForVisitor(ctx, args):
    """The visitor's oldest open conversation, or a new one."""
    visitor_id = await _session_visitor(ctx, args)
    for conversation in await _visitor_conversations(ctx, args["workspaceId"], visitor_id):
        if conversation["status"] == "open":
            return conversation
    return await open_visitor_conversation(ctx, args["workspaceId"], visitor_id)


@mutation(args={"id": v.id("conversations"), "status": conversation_status})
async def updateStatus(ctx, args):
    """Open, close or snooze (``conversations.close``); closing stamps ``resolvedAt``, reopening clears it."""
    await require_user(ctx)
    conversation = await _conversation(ctx, args["id"])
    agent = await require_permission(ctx, conversation["workspaceId"], "conversations.close")
    patch = {"status": args["status"], "updatedAt": now_ms()}
    if args["status"] == "closed":
        patch["resolvedAt"] = patch["updatedAt"]
    elif args["status"] == "open":
        patch["resolvedAt"] = UNDEFINED
    await ctx.db.patch(conversation["_id"], patch)
    if conversation["status"] != args["status"]:
        await record_audit(
            ctx,
            workspace_id=conversation["workspaceId"],
            action="conversation.status.changed",
            resource_type="conversation",
            resource_id=conversation["_id"],
            actor_id=agent.id,
            metadata={"previousStatus": conversation["status"], "newStatus": args["status"]},
        )
    return None


@mutation(args={"id": v.id("conversations"), "agentId": v.id("users")})
async def assign(ctx, args):
    """Assign to a member of the workspace (``conversations.assign``)."""
    await require_user(ctx)
    conversation = await _conversation(ctx, args["id"])
    agent = await require_permission(ctx, conversation["workspaceId"], "conversations.assign")
    if await find_membership(ctx, args["agentId"], conversation["workspaceId"]) is None:
        fail(INVALID_INPUT, "Assignee is not a member of this workspace")
    await ctx.db.patch(conversation["_id"], {"assignedAgentId": args["agentId"], "updatedAt": now_ms()})
    await record_audit(
        ctx,
        workspace_id=conversation["workspaceId"],
        action="conversation.assigned",
        resource_type="conversation",
        resource_id=conversation["_id"],
        actor_id=agent.id,
        metadata={"previousAgentId": conversation.get("assignedAgentId"), "agentId": args["agentId"]},
    )
    return None


@mutation(
    args={
        "id": v.id("conversations"),
        "readerType": v.union(v.literal("visitor"), v.literal("agent")),
        "visitorId": v.optional(v.id("visitors")),
        "sessionToken": v.optional(v.string()),
    }
)
async def markAsRead(ctx, args):
    """Clear the reader's unread count: the visitor's (own session) or the agents' (``conversations.read``)."""
    conversation = await _conversation(ctx, args["id"])
    if args["readerType"] == "visitor":
        await owning_visitor(ctx, conversation, args.get("sessionToken"), args.get("visitorId"))
        await ctx.db.patch(conversation["_id"], {"unreadByVisitor": 0.0})
    else:
        await require_permission(ctx, conversation["workspaceId"], "conversations.read")
        await ctx.db.patch(conversation["_id"], {"unreadByAgent": 0.0})
    return None


_VISITOR_LIST_ARGS = {
    "sessionToken": v.optional(v.string()),
    "workspaceId": v.optional(v.id("workspaces")),
    "visitorId": v.optional(v.id("visitors")),
}


@query(args=_VISITOR_LIST_ARGS)
async def listByVisitor(ctx, args):
    """The session visitor's conversations with their ``lastMessage``, most recently active first."""
    if not args.get("sessionToken") or "workspaceId" not in args:
        return []
    visitor_id = await resolve_visitor(ctx, args["sessionToken"], args["workspaceId"], args.get("visitorId"))
    conversations = await _visitor_conversations(ctx, args["workspaceId"], visitor_id)
    enriched = [{**row, "lastMessage": await newest_message(ctx, row["_id"])} for row in conversations]
    enriched.sort(key=lambda row: row.get("lastMessageAt", row["createdAt"]), reverse=True)
    return enriched


@query(args=_VISITOR_LIST_ARGS)
async def getTotalUnreadForVisitor(ctx, args):
    """How many agent/bot messages the session visitor has not read, over all its conversations."""
    if not args.get("sessionToken") or "workspaceId" not in args:
        return 0.0
    visitor_id = await resolve_visitor(ctx, args["sessionToken"], args["workspaceId"], args.get("visitorId"))
    conversations = await _visitor_conversations(ctx, args["workspaceId"], visitor_id)
    return sum((row.get("unreadByVisitor", 0.0) for row in conversations), 0.0)
