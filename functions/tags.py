"""Tags: workspace labels agents put on conversations; a new tag on a visitor's conversation can
enroll the visitor in series (``lib/series_triggers``).

Names are unique per workspace (exact match). Deleting a tag removes it from every conversation
and deletes the auto-tag rules that apply it.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.clock import now_ms
from .lib.errors import ALREADY_EXISTS, INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import require_user
from .lib.permissions import Agent, agent_with_permission, require_permission
from .lib.series_triggers import notify_tagged

READ = "conversations.read"
MANAGE = "checklists.manage"  # Opencom gates tag authoring on this permission (agents have it)
APPLY = "conversations.assign"


async def _tag(ctx: Any, tag_id: str) -> dict:
    tag = await ctx.db.get(tag_id)
    if tag is None:
        not_found("Tag")
    return tag


async def _refuse_duplicate(ctx: Any, workspace_id: str, name: str, exclude_id: str | None = None) -> None:
    same = (
        await ctx.db.query("tags")
        .with_index("by_workspace_name", lambda q: q.eq("workspaceId", workspace_id).eq("name", name))
        .first()
    )
    if same is not None and same["_id"] != exclude_id:
        fail(ALREADY_EXISTS, f'Tag "{name}" already exists')


async def _link_target(ctx: Any, args: dict) -> tuple[dict, dict, Agent]:
    """The conversation, the tag (same workspace) and the agent allowed to (un)tag it."""
    await require_user(ctx)
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None:
        not_found("Conversation")
    tag = await _tag(ctx, args["tagId"])
    agent = await require_permission(ctx, conversation["workspaceId"], APPLY)
    if tag["workspaceId"] != conversation["workspaceId"]:
        fail(INVALID_INPUT, "Tag and conversation belong to different workspaces")
    return conversation, tag, agent


async def _link(ctx: Any, conversation_id: str, tag_id: str) -> dict | None:
    return (
        await ctx.db.query("conversationTags")
        .with_index("by_conversation_tag", lambda q: q.eq("conversationId", conversation_id).eq("tagId", tag_id))
        .first()
    )


@query(args={"workspaceId": v.id("workspaces")})
async def list_(ctx, args):
    """The workspace's tags (``conversations.read``; empty otherwise)."""
    if await agent_with_permission(ctx, args["workspaceId"], READ) is None:
        return []
    return (
        await ctx.db.query("tags")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"]))
        .collect()
    )


@query(args={"id": v.id("tags")})
async def get(ctx, args):
    """The tag (``conversations.read``; null otherwise)."""
    tag = await ctx.db.get(args["id"])
    if tag is None or await agent_with_permission(ctx, tag["workspaceId"], READ) is None:
        return None
    return tag


@mutation(args={"workspaceId": v.id("workspaces"), "name": v.string(), "color": v.optional(v.string())})
async def create(ctx, args):
    """Create a tag; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    await _refuse_duplicate(ctx, args["workspaceId"], args["name"])
    now = now_ms()
    return await ctx.db.insert(
        "tags",
        {
            "workspaceId": args["workspaceId"],
            "name": args["name"],
            "color": args.get("color", UNDEFINED),
            "createdAt": now,
            "updatedAt": now,
        },
    )


@mutation(args={"id": v.id("tags"), "name": v.optional(v.string()), "color": v.optional(v.string())})
async def update(ctx, args):
    """Rename or recolour a tag; returns its id."""
    await require_user(ctx)
    tag = await _tag(ctx, args["id"])
    await require_permission(ctx, tag["workspaceId"], MANAGE)
    if "name" in args and args["name"] != tag["name"]:
        await _refuse_duplicate(ctx, tag["workspaceId"], args["name"], exclude_id=tag["_id"])
    changes = {field: args[field] for field in ("name", "color") if field in args}
    await ctx.db.patch(tag["_id"], {**changes, "updatedAt": now_ms()})
    return tag["_id"]


@mutation(args={"id": v.id("tags")})
async def remove(ctx, args):
    """Delete a tag, its conversation links and the auto-tag rules that apply it."""
    await require_user(ctx)
    tag = await _tag(ctx, args["id"])
    await require_permission(ctx, tag["workspaceId"], MANAGE)
    async for link in ctx.db.query("conversationTags").with_index("by_tag", lambda q: q.eq("tagId", tag["_id"])):
        await ctx.db.delete(link["_id"])
    async for rule in ctx.db.query("autoTagRules").with_index(
        "by_workspace", lambda q: q.eq("workspaceId", tag["workspaceId"])
    ):
        if rule["tagId"] == tag["_id"]:
            await ctx.db.delete(rule["_id"])
    await ctx.db.delete(tag["_id"])
    return None


@mutation(
    args={
        "conversationId": v.id("conversations"),
        "tagId": v.id("tags"),
        "appliedBy": v.optional(v.union(v.literal("manual"), v.literal("auto"))),
        "appliedByUserId": v.optional(v.id("users")),
    }
)
async def addToConversation(ctx, args):
    """Tag a conversation (idempotent); returns the link id."""
    conversation, tag, agent = await _link_target(ctx, args)
    if args.get("appliedByUserId", agent.id) != agent.id:
        fail(NOT_AUTHORIZED, "Cannot apply tag on behalf of another user")
    existing = await _link(ctx, conversation["_id"], tag["_id"])
    if existing is not None:
        return existing["_id"]
    await notify_tagged(ctx, conversation, tag["name"])
    return await ctx.db.insert(
        "conversationTags",
        {
            "conversationId": conversation["_id"],
            "tagId": tag["_id"],
            "appliedBy": args.get("appliedBy", "manual"),
            "appliedByUserId": agent.id,
            "createdAt": now_ms(),
        },
    )


@mutation(args={"conversationId": v.id("conversations"), "tagId": v.id("tags")})
async def removeFromConversation(ctx, args):
    """Untag a conversation (no-op when it was not tagged)."""
    conversation, tag, _ = await _link_target(ctx, args)
    existing = await _link(ctx, conversation["_id"], tag["_id"])
    if existing is not None:
        await ctx.db.delete(existing["_id"])
    return None


@query(args={"conversationId": v.id("conversations")})
async def getConversationTags(ctx, args):
    """The conversation's tags with ``appliedBy``, ``appliedByUserId`` and ``appliedAt``."""
    conversation = await ctx.db.get(args["conversationId"])
    if conversation is None or await agent_with_permission(ctx, conversation["workspaceId"], READ) is None:
        return []
    links = ctx.db.query("conversationTags").with_index(
        "by_conversation", lambda q: q.eq("conversationId", conversation["_id"])
    )
    tags = []
    async for link in links:
        tag = await ctx.db.get(link["tagId"])
        if tag is not None:
            applied = {
                "appliedBy": link.get("appliedBy", UNDEFINED),
                "appliedByUserId": link.get("appliedByUserId", UNDEFINED),
            }
            tags.append({**tag, **applied, "appliedAt": link["createdAt"]})
    return tags
