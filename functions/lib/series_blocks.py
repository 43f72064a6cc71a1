"""What each kind of series block does for one visitor, inside the processing mutation.

A block returns a ``Step``: "completed" (go on to ``next_block``), "waiting" (until ``wait_until``
or the event ``wait_event``) or "failed" (``error``; the runtime retries with back-off). Email,
push, chat and post blocks deliver in the same transaction as the progress they advance, so a
step commits together with its message or not at all: a retry or a restart never sends twice.
Chat and post blocks post their body as a bot message in the visitor's latest conversation (a new
one when the visitor has none); a carousel is shown by the widget.
"""

from dataclasses import dataclass
from typing import Any

from .audience import Evaluation
from .campaign_email import DEFAULT_SENDER, substitute
from .clock import now_ms
from .email_provider import OutgoingEmail, new_message_id, send_email, text_to_html
from .identity import Doc
from .push_dispatch import push
from .push_send import enabled_tokens
from .series_graph import Graph
from .series_triggers import notify_tagged
from .threads import SYSTEM_SENDER, append_message, new_conversation

UNIT_MS = {"minutes": 60_000.0, "hours": 3_600_000.0, "days": 86_400_000.0}


@dataclass(frozen=True)
class Step:
    """The outcome of executing one block."""

    status: str  # "completed" | "waiting" | "failed"
    next_block: str | None = None
    wait_until: float | None = None
    wait_event: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    delivery_attempted: bool = False  # a message block tried to reach the visitor
    delivery_failed: bool = False  # ... and could not (or was not configured to)
    branch: str | None = None  # the connection a rule block took: "yes", "no" or "default"


async def execute(ctx: Any, graph: Graph, block: Doc, visitor: Doc, progress: Doc) -> Step:
    """Run ``block`` for ``visitor``."""
    config, kind, now = block.get("config") or {}, block["type"], now_ms()
    following = graph.next_block(block["_id"])
    if kind == "rule":
        if not config.get("rules"):
            return Step("failed", error="Rule block has no rules.")
        matched = await Evaluation(ctx, visitor, now).rule(config["rules"])
        branch = "yes" if matched else "no"
        connection = graph.next_connection(block["_id"], branch)
        taken = "default" if connection is None else connection.get("condition")
        following = None if connection is None else connection["toBlockId"]
        return Step("completed", following, result={"branch": branch}, branch=taken)
    if kind == "wait":
        return _wait(config, now)
    if kind == "tag":
        return await _tag(ctx, config, visitor, following)
    if kind == "email":
        return await _email(ctx, block, config, visitor, progress, following)
    if kind == "push":
        return await _push(ctx, block, config, visitor, progress, following)
    if kind in ("chat", "post"):
        return await _post(ctx, block, config, visitor, progress, following)
    return Step("completed", following, result={"delivered": kind}, delivery_attempted=True)  # carousel: the widget shows it


def _wait(config: dict, now: float) -> Step:
    wait_type = config.get("waitType")
    if wait_type == "duration" and (config.get("waitDuration") or 0) > 0:
        return Step("waiting", wait_until=now + config["waitDuration"] * UNIT_MS[config.get("waitUnit") or "minutes"])
    if wait_type == "until_date" and config.get("waitUntilDate") is not None:
        return Step("waiting", wait_until=float(config["waitUntilDate"]))
    if wait_type == "until_event" and config.get("waitUntilEvent"):
        return Step("waiting", wait_event=config["waitUntilEvent"])
    return Step("failed", error="Wait block is not configured.")


async def _tag(ctx: Any, config: dict, visitor: Doc, following: str | None) -> Step:
    name = (config.get("tagName") or "").strip().lower()
    if not name or config.get("tagAction") not in ("add", "remove"):
        return Step("failed", error="Tag block is not configured.")
    conversations = ctx.db.query("conversations").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    conversation = await conversations.order("desc").first()
    if conversation is None:
        return Step("completed", following, result={"tagged": False})
    workspace_id = visitor["workspaceId"]
    tag = await ctx.db.query("tags").with_index("by_workspace_name", lambda q: q.eq("workspaceId", workspace_id).eq("name", name)).first()
    if tag is None and config["tagAction"] == "add":
        now = now_ms()
        tag = {"_id": await ctx.db.insert("tags", {"workspaceId": workspace_id, "name": name, "createdAt": now, "updatedAt": now})}
    if tag is not None:
        links = ctx.db.query("conversationTags").with_index(
            "by_conversation_tag", lambda q: q.eq("conversationId", conversation["_id"]).eq("tagId", tag["_id"])
        )
        link = await links.first()
        if config["tagAction"] == "add" and link is None:
            row = {"conversationId": conversation["_id"], "tagId": tag["_id"], "appliedBy": "auto", "createdAt": now_ms()}
            await ctx.db.insert("conversationTags", row)
            await notify_tagged(ctx, conversation, name)
        elif config["tagAction"] == "remove" and link is not None:
            await ctx.db.delete(link["_id"])
    return Step("completed", following, result={"tagged": True})


async def _already_done(ctx: Any, progress: Doc, block: Doc) -> bool:
    """Whether this progress already completed ``block`` (a message block on a loop is sent once)."""
    history = ctx.db.query("seriesProgressHistory").with_index("by_progress", lambda q: q.eq("progressId", progress["_id"]))
    async for row in history:
        if row["blockId"] == block["_id"] and row["action"] == "completed":
            return True
    return False


async def _email(ctx: Any, block: Doc, config: dict, visitor: Doc, progress: Doc, following: str | None) -> Step:
    if await _already_done(ctx, progress, block):
        return Step("completed", following, result={"skipped": "already sent"})
    if not (config.get("subject") and config.get("body")):
        return Step("failed", error="Email block needs a subject and a body.", delivery_failed=True)
    if not visitor.get("email"):
        return _undeliverable("Visitor email is required for email block delivery.")
    channel = await ctx.db.query("emailConfigs").with_index("by_workspace", lambda q: q.eq("workspaceId", visitor["workspaceId"])).first()
    if channel is None or not channel.get("enabled"):
        return _undeliverable("The workspace's email channel is not enabled.")
    sender = ctx.env.get("OPENCOM_CAMPAIGN_FROM") or channel.get("fromEmail") or DEFAULT_SENDER
    body = substitute(config["body"], visitor, escape=False)
    email = OutgoingEmail(
        purpose="series", sender=sender, to=(visitor["email"],), subject=substitute(config["subject"], visitor, escape=False),
        text=body, html=text_to_html(body), message_id=new_message_id(sender), workspace_id=visitor["workspaceId"],
    )  # fmt: skip
    delivery = await send_email(ctx, email)
    return Step("completed", following, result={"provider": delivery.provider, "status": delivery.status}, delivery_attempted=True)


async def _push(ctx: Any, block: Doc, config: dict, visitor: Doc, progress: Doc, following: str | None) -> Step:
    if await _already_done(ctx, progress, block):
        return Step("completed", following, result={"skipped": "already sent"})
    if not (config.get("title") and config.get("body")):
        return Step("failed", error="Push block needs a title and a body.", delivery_failed=True)
    tokens = await enabled_tokens(ctx, visitor)
    if not tokens:
        return _undeliverable("Visitor push token is required for push block delivery.")
    event_key = f"series:{block['seriesId']}:{block['_id']}"
    delivery = {"workspaceId": visitor["workspaceId"], "eventKey": event_key, "dedupeKey": f"{event_key}:visitor:{visitor['_id']}:push",
                "recipientType": "visitor", "visitorId": visitor["_id"]}  # fmt: skip
    status = await push(ctx, delivery, tokens, config["title"], config["body"])
    return Step("completed", following, result={"push": status}, delivery_attempted=True)


async def _post(ctx: Any, block: Doc, config: dict, visitor: Doc, progress: Doc, following: str | None) -> Step:
    """A chat or post block: its body, personalised, as a bot message in the visitor's latest conversation."""
    if await _already_done(ctx, progress, block):
        return Step("completed", following, result={"skipped": "already sent"})
    body = substitute(config.get("body") or "", visitor, escape=False).strip()
    if not body:
        return Step("completed", following, result={"posted": False})  # readiness warned: nothing to say
    conversations = ctx.db.query("conversations").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    conversation = await conversations.order("desc").first() or await new_conversation(ctx, visitor["workspaceId"], visitor["_id"])
    message_id = await append_message(ctx, conversation, sender_type="bot", sender_id=SYSTEM_SENDER, content=body)
    result = {"conversationId": conversation["_id"], "messageId": message_id}
    return Step("completed", following, result=result, delivery_attempted=True)


def _undeliverable(error: str) -> Step:
    """A message block that tried to reach the visitor and found no way to."""
    return Step("failed", error=error, delivery_attempted=True, delivery_failed=True)
