"""The agents' inbox: pages of conversations, latest activity first, each with what its row shows.

A page is read from the index matching the filters (workspace, status, AI state, then
``lastMessageAt``), newest first, so a page costs the same at any inbox size and the query re-runs
only when conversations in its range change. Opencom instead reads up to 5,000 conversations in
creation order and sorts them in memory. Conversations that never had a message (no
``lastMessageAt``) come last.
"""

from typing import Any

from .identity import Doc
from .threads import newest_message

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _source(ctx: Any, args: Doc) -> Any:
    workspace_id, status, ai_state = args["workspaceId"], args.get("status"), args.get("aiWorkflowState")
    conversations = ctx.db.query("conversations")
    if status and ai_state:
        return conversations.with_index(
            "by_ai_state_status_last_message",
            lambda q: q.eq("workspaceId", workspace_id).eq("aiWorkflowState", ai_state).eq("status", status),
        )
    if ai_state:
        return conversations.with_index(
            "by_ai_state_last_message", lambda q: q.eq("workspaceId", workspace_id).eq("aiWorkflowState", ai_state)
        )
    if status:
        return conversations.with_index(
            "by_status_last_message", lambda q: q.eq("workspaceId", workspace_id).eq("status", status)
        )
    return conversations.with_index("by_last_message", lambda q: q.eq("workspaceId", workspace_id))


def ai_workflow(conversation: Doc) -> Doc:
    """The conversation's AI state as the inbox shows it (nulls for what never happened)."""
    return {
        "state": conversation.get("aiWorkflowState", "none"),
        "handoffReason": conversation.get("aiHandoffReason"),
        "confidence": conversation.get("aiLastConfidence"),
        "lastResponseAt": conversation.get("aiLastResponseAt"),
    }


async def inbox_page(ctx: Any, args: Doc) -> Doc:
    """``{conversations, nextCursor}``: one page with ``visitor``, ``lastMessage`` and ``aiWorkflow``."""
    size = int(min(max(args.get("limit", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE))
    result = await _source(ctx, args).order("desc").paginate({"numItems": size, "cursor": args.get("cursor")})
    visitors: dict[str, Doc | None] = {}
    rows = []
    for conversation in result["page"]:
        visitor_id = conversation.get("visitorId")
        if visitor_id is not None and visitor_id not in visitors:
            visitors[visitor_id] = await ctx.db.get(visitor_id)
        rows.append(
            {
                **conversation,
                "visitor": visitors.get(visitor_id) if visitor_id is not None else None,
                "lastMessage": await newest_message(ctx, conversation["_id"]),
                "aiWorkflow": ai_workflow(conversation),
            }
        )
    return {"conversations": rows, "nextCursor": None if result["isDone"] else result["continueCursor"]}
