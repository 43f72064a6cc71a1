"""Notification pushes (agents' alerts, series push blocks) through the push transport.

Without a transport the payload is recorded as a ``notificationDeliveries`` row "suppressed" with
``NO_TRANSPORT``. With Expo configured the row is "pending" and names its device tokens; a
scheduled action (``notifications:dispatchPush``) claims it ("sending", in a mutation, so a
repeated job finds nothing to send), posts it and records Expo's answers: "delivered" when a
device took it, else "failed"; each refusal counts on its token, and a dead one is switched
off (``push_tokens``). A crash between claim
and answer leaves the row "sending": never sent twice, never called delivered without an answer.
"""

from typing import Any

from .clock import now_ms
from .identity import Doc
from .push_tokens import record_delivery_failure
from .push_transport import NO_TRANSPORT, expo_settings

DISPATCH = "notifications:dispatchPush"


async def push(ctx: Any, delivery: dict[str, Any], tokens: list[Doc], title: str, body: str) -> str:
    """Record (and with a transport, schedule) one push to ``tokens``; returns the row's status."""
    row = {**delivery, "channel": "push", "tokenCount": float(len(tokens)), "metadata": {"title": title, "body": body}, "createdAt": now_ms()}
    if expo_settings(ctx.env) is None:
        await ctx.db.insert("notificationDeliveries", {**row, "status": "suppressed", "reason": NO_TRANSPORT})
        return "suppressed"
    delivery_id = await ctx.db.insert("notificationDeliveries", {**row, "status": "pending", "tokenIds": [t["_id"] for t in tokens]})
    await ctx.scheduler.run_after(0, DISPATCH, {"deliveryId": delivery_id})
    return "pending"


async def claim(ctx: Any, delivery_id: str) -> list[dict[str, Any]] | None:
    """Mark a pending push "sending" and return its messages (``{tokenId, to, title, body}``); None otherwise."""
    row = await ctx.db.get(delivery_id)
    if row is None or row["status"] != "pending":
        return None
    await ctx.db.patch(delivery_id, {"status": "sending"})
    messages = []
    for token_id in row.get("tokenIds") or []:
        token = await ctx.db.get(token_id)
        if token is not None and token.get("notificationsEnabled") is not False:
            messages.append({"tokenId": token_id, "to": token["token"], "title": row["metadata"]["title"], "body": row["metadata"]["body"]})
    return messages


async def record(ctx: Any, delivery_id: str, results: list[dict[str, Any]]) -> None:
    """Record the transport's answers (``{tokenId, ok, error?}``) for a claimed push."""
    row = await ctx.db.get(delivery_id)
    if row is None or row["status"] != "sending":
        return
    errors = []
    for result in results:
        if result["ok"] is False:
            error = str(result.get("error", ""))[:500]
            errors.append(error)
            token = await ctx.db.get(result["tokenId"])
            if token is not None:
                await record_delivery_failure(ctx, token, error, remove=False)
    if any(result["ok"] for result in results):
        await ctx.db.patch(delivery_id, {"status": "delivered"})
    else:
        error = errors[0] if errors else "No device accepted the notification"
        await ctx.db.patch(delivery_id, {"status": "failed", "error": error})
