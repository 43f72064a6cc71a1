"""A demo workspace to try the backend with: ``opencom seed`` (or ``opencom run --admin demo:seed``).

``seed`` creates, once, a workspace with an admin who signs in with a password, a few visitors
and their chat conversations, and an email conversation received at the workspace's forwarding
address. Every piece is found again by a stable key (the admin's email, each visitor's email, the
demo email's Message-ID), so running it again adds nothing; it only sets a new password (printed
each time, since only its hash is kept) unless one is given.
"""

import asyncio
import secrets
from typing import Any

from runtime import internal_action, internal_mutation, knobs, v
from runtime.auth.passwords import hash_password

from .lib.accounts import ensure_user, opencom_profile
from .lib.clock import now_ms
from .lib.email_threads import email_visitor, ensure_config, file_inbound_email
from .lib.errors import INVALID_INPUT, fail
from .lib.threads import append_message, open_visitor_conversation

ADMIN_EMAIL = "admin@demo.opencom.dev"
ADMIN_NAME = "Demo Admin"
WORKSPACE_NAME = "Demo Workspace"
# (name, email, [(sender, content), ...], closed): "visitor" lines are theirs, "agent" lines the admin's.
CHATS = (
    (
        "Ada Lovelace",
        "ada@example.com",
        [
            ("visitor", "Hi! I can't find where to export my data."),
            ("agent", "Hi Ada, it's under Settings, then Data. Shall I walk you through it?"),
            ("visitor", "Found it, thanks!"),
        ],
        False,
    ),
    ("Grace Hopper", "grace@example.com", [("visitor", "Do you offer a discount for non-profits?")], False),
    (
        "Alan Turing",
        "alan@example.com",
        [
            ("visitor", "My invoice shows the wrong company name."),
            ("agent", "Fixed: a corrected invoice is on its way to you."),
        ],
        True,
    ),
)
DEMO_EMAIL = {
    "from": "linus@example.com",
    "fromName": "Linus Torvalds",
    "cc": [],
    "subject": "Question about API rate limits",
    "text": "Hello,\n\nHow many requests per minute does your API allow?\n\nThanks,\nLinus",
    "html": "",
    "messageId": "<demo-rate-limits@demo.opencom.dev>",
    "references": [],
}


async def _admin(ctx: Any, password_hash: str) -> dict:
    profile = opencom_profile({"email": ADMIN_EMAIL, "name": ADMIN_NAME, "workspaceName": WORKSPACE_NAME})
    user_id = await ensure_user(ctx, existing_user_id=None, profile=profile)
    account = await (
        ctx.db.query("authAccounts")
        .with_index("providerAndAccountId", lambda q: q.eq("provider", "password").eq("providerAccountId", ADMIN_EMAIL))
        .unique()
    )
    if account is None:
        await ctx.db.insert(
            "authAccounts",
            {"userId": user_id, "provider": "password", "providerAccountId": ADMIN_EMAIL, "secret": password_hash},
        )
    else:
        await ctx.db.patch(account["_id"], {"secret": password_hash})
    return await ctx.db.get(user_id)


async def _chat(ctx: Any, workspace_id: str, admin_id: str, chat: tuple) -> None:
    name, email, lines, closed = chat
    visitor = await email_visitor(ctx, workspace_id, email, name)
    started = ctx.db.query("conversations").with_index("by_visitor", lambda q: q.eq("visitorId", visitor["_id"]))
    if await started.first() is not None:
        return
    conversation = await open_visitor_conversation(ctx, workspace_id, visitor["_id"])
    for sender, content in lines:
        sender_id = visitor["_id"] if sender == "visitor" else admin_id
        await append_message(ctx, conversation, sender_type=sender, sender_id=sender_id, content=content)
        conversation = await ctx.db.get(conversation["_id"])
    if closed:
        closed_at = now_ms()
        await ctx.db.patch(conversation["_id"], {"status": "closed", "resolvedAt": closed_at, "updatedAt": closed_at})


@internal_mutation(args={"passwordHash": v.string()})
async def seedWorkspace(ctx, args):
    """Create (or find) the demo workspace and its data; returns what a newcomer needs to know."""
    admin = await _admin(ctx, args["passwordHash"])
    workspace_id = admin["workspaceId"]
    config = await ctx.db.get(await ensure_config(ctx, workspace_id))
    for chat in CHATS:
        await _chat(ctx, workspace_id, admin["_id"], chat)
    await file_inbound_email(ctx, workspace_id, {**DEMO_EMAIL, "to": [config["forwardingAddress"]]}, forwarded=False)
    conversations = await (
        ctx.db.query("conversations").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).collect()
    )
    visitors = await (
        ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id)).collect()
    )
    return {
        "workspaceId": workspace_id,
        "workspaceName": (await ctx.db.get(workspace_id))["name"],
        "forwardingAddress": config["forwardingAddress"],
        "visitors": float(len(visitors)),
        "conversations": float(len(conversations)),
    }


@internal_action(args={"password": v.optional(v.string())})
async def seed(ctx, args):
    """Seed the demo workspace; returns its summary with the admin's ``email`` and ``password``."""
    password = args.get("password") or secrets.token_urlsafe(12)
    if len(password) < knobs.AUTH_MIN_PASSWORD_LENGTH:
        fail(INVALID_INPUT, f"The demo password needs at least {knobs.AUTH_MIN_PASSWORD_LENGTH} characters")
    # Hashing is deliberately slow: done here, off the event loop, not inside the mutation.
    password_hash = await asyncio.to_thread(hash_password, password)
    summary = await ctx.run_mutation(seedWorkspace, {"passwordHash": password_hash})
    return {**summary, "email": ADMIN_EMAIL, "password": password}
