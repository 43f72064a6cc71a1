"""Telling people something happened: agents (new conversation, visitor reply, assignment, ticket) and
visitors (an agent replied while they were away, their ticket changed).

Every event becomes a ``notificationEvents`` row (the in-app feed). Each recipient then gets email
(through the email provider, the outbox by default) and, agents, push (``push_dispatch``: Expo
when configured, else recorded undelivered) as their preferences allow. Deliveries are debounced
per channel and conversation (or ticket): within ``DEBOUNCE_MS`` of the last one, a burst of
messages adds events to the feed but sends nothing more (agents' windows: ``agent_windows``). A
visitor's deliveries happen in the caller's transaction; agents' in a mutation that transaction
schedules (a workspace can have many agents), and a push to Expo is sent by a job scheduled in turn.
"""

from typing import Any

from .agent_windows import DEBOUNCE_MS, EVERYONE, Audience, agents_of, claim_windows, dedupe_row, members, window_key
from .campaign_email import DEFAULT_SENDER
from .clock import now_ms
from .email_provider import OutgoingEmail, new_message_id, send_email, text_to_html
from .identity import Doc
from .notification_preferences import agents_wants
from .push_dispatch import push

AWAY_AFTER_MS = 5 * 60_000.0  # a visitor unseen this long gets an email for an agent's reply
PREVIEW = 280


async def _event(ctx: Any, workspace_id: str, event_type: str, scope: str, title: str, body: str, **fields: Any) -> str:
    row = {
        "workspaceId": workspace_id, "eventKey": f"{event_type}:{scope}", "eventType": event_type, "title": title,
        "bodyPreview": body[:PREVIEW], "createdAt": now_ms(), **{k: val for k, val in fields.items() if val is not None},
    }  # fmt: skip
    return await ctx.db.insert("notificationEvents", row)


async def _first_in_burst(ctx: Any, event_id: str, key: str, workspace_id: str, channel: str, recipient: dict) -> bool:
    """Claim the debounce window for ``key``; False when a delivery already went out within it."""
    existing = await dedupe_row(ctx, key)
    now = now_ms()
    if existing is not None and now - existing["createdAt"] < DEBOUNCE_MS:
        return False
    fields = {"eventId": event_id, "eventKey": key, "createdAt": now}
    if existing is not None:
        await ctx.db.patch(existing["_id"], fields)
    else:
        row = {"dedupeKey": key, "workspaceId": workspace_id, "channel": channel, **recipient, **fields}
        await ctx.db.insert("notificationDedupeKeys", row)
    return True


async def _email(ctx: Any, workspace_id: str, to: str, title: str, body: str) -> None:
    sender = ctx.env.get("OPENCOM_NOTIFICATIONS_FROM") or DEFAULT_SENDER
    await send_email(
        ctx,
        OutgoingEmail(purpose="notification", sender=sender, to=(to,), subject=title, text=body, html=text_to_html(body),
                      message_id=new_message_id(sender), workspace_id=workspace_id),  # fmt: skip
    )


async def _push_agent(ctx: Any, workspace_id: str, event_id: str, key: str, user_id: str, title: str, body: str) -> None:
    tokens = ctx.db.query("pushTokens").with_index("by_user", lambda q: q.eq("userId", user_id))
    enabled = [token async for token in tokens if token.get("notificationsEnabled") is not False]
    if enabled:
        delivery = {"workspaceId": workspace_id, "eventId": event_id, "eventKey": key, "dedupeKey": key, "recipientType": "agent", "userId": user_id}
        await push(ctx, delivery, enabled, title, body[:PREVIEW])


async def notify_agents(
    ctx: Any, workspace_id: str, event_type: str, scope: str, title: str, body: str, *,
    only: list[str] | None = None, actor_user_id: str | None = None, **fields: Any,
) -> str:  # fmt: skip
    """Record the event and, for the agents ``scope``'s windows do not cover yet, schedule telling them.

    ``only`` these agents (default: every member), never the actor. The fan-out (each agent's
    preferences, email and push) runs in its own scheduled mutation, as Opencom's does, so the write
    that caused it stays short however many agents the workspace has; within an open window nothing
    is scheduled at all.
    """
    event_id = await _event(ctx, workspace_id, event_type, scope, title, body, audience="agent", actorUserId=actor_user_id, **fields)
    audience = None if only is None else [user_id for user_id in only if user_id != actor_user_id]
    due = await claim_windows(ctx, event_id, scope, workspace_id, audience)
    if due:
        job = {"eventId": event_id, "scope": scope, "title": title, "body": body, "actorUserId": actor_user_id, **due}
        await ctx.scheduler.run_after(0, "notifications:deliverToAgents", job)
    return event_id


async def deliver_to_agents(
    ctx: Any, event_id: str, scope: str, title: str, body: str, due: dict[str, Audience], actor_user_id: str | None
) -> None:
    """Email and push the agents ``due`` on each channel (``claim_windows``) as their preferences allow."""
    event = await ctx.db.get(event_id)
    if event is None:
        return
    workspace_id = event["workspaceId"]
    everyone = await members(ctx, workspace_id) if EVERYONE in due.values() else []
    email_to = agents_of(due.get("email"), everyone, actor_user_id)
    push_to = agents_of(due.get("push"), everyone, actor_user_id)
    wants = await agents_wants(ctx, list(dict.fromkeys(email_to + push_to)), workspace_id)
    for user_id in email_to:
        user = await ctx.db.get(user_id) if wants[user_id]["email"] else None
        if user and user.get("email"):
            await _email(ctx, workspace_id, user["email"], title, body)
    for user_id in push_to:
        if wants[user_id]["push"]:
            await _push_agent(ctx, workspace_id, event_id, window_key(scope, "push"), user_id, title, body)


async def notify_visitor(
    ctx: Any, visitor: Doc, event_type: str, scope: str, title: str, body: str, *, actor_user_id: str | None = None,
    by_email: bool = True, **fields: Any,
) -> None:  # fmt: skip
    """Record the event for ``visitor`` and, ``by_email``, email them (once per ``scope`` a window) when they have an address."""
    event_id = await _event(ctx, visitor["workspaceId"], event_type, scope, title, body, audience="visitor",
                            actorType="agent" if actor_user_id else "system", actorUserId=actor_user_id, **fields)  # fmt: skip
    if by_email and visitor.get("email"):
        key = f"{scope}:visitor:{visitor['_id']}:email"
        if await _first_in_burst(ctx, event_id, key, visitor["workspaceId"], "email", {"recipientType": "visitor", "visitorId": visitor["_id"]}):
            await _email(ctx, visitor["workspaceId"], visitor["email"], title, body)


async def notify_visitor_of_reply(ctx: Any, conversation: Doc, agent_id: str, content: str) -> None:
    """An agent answered: tell the visitor when they are away (not seen for ``AWAY_AFTER_MS``)."""
    visitor = await ctx.db.get(conversation["visitorId"]) if conversation.get("visitorId") else None
    if visitor is None:
        return
    away = now_ms() - visitor.get("lastSeenAt", 0) >= AWAY_AFTER_MS
    await notify_visitor(ctx, visitor, "chat_message", f"conversation:{conversation['_id']}", "New reply to your conversation",
                         content, actor_user_id=agent_id, by_email=away, domain="chat", conversationId=conversation["_id"])  # fmt: skip


async def on_message(ctx: Any, conversation: Doc, sender_type: str, sender_id: str, content: str) -> None:
    """A message was posted: a visitor's reaches the assigned agent (or every member); an agent's, the visitor."""
    if sender_type == "agent":
        await notify_visitor_of_reply(ctx, conversation, sender_id, content)
        return
    if sender_type != "visitor":
        return
    assigned = conversation.get("assignedAgentId")
    await notify_agents(
        ctx, conversation["workspaceId"], "chat_message", f"conversation:{conversation['_id']}", "New visitor message", content,
        only=[assigned] if assigned else None, domain="chat", actorType="visitor", actorVisitorId=sender_id,
        conversationId=conversation["_id"],
    )  # fmt: skip
