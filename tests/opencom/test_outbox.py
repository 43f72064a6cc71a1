"""Outgoing email: everything the backend sends lands in the ``outbox`` table, and nothing claims "sent".

Two senders: agents answering an email conversation (``emailChannel:sendEmailReply``) and the
email-code sign-in (``auth:signIn`` with ``provider: "resend-otp"``), whose code a developer reads
from the outbox.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from opencom_backend import Backend, Person, Team

from runtime import ConvexError, knobs

EMAIL_CODE = "resend-otp"


async def outbox(backend: Backend) -> list[dict[str, Any]]:
    return (await backend.dump())["outbox"]


async def email_conversation(backend: Backend, team: Team, **fields: Any) -> tuple[str, dict[str, Any]]:
    """An email conversation started by Ann (filed the way the webhook files it); returns (id, config)."""
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id, **fields}, as_=team.admin)
    config = await backend.call("emailChannel:getEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    filed = await backend.internal("emailChannel:processInboundEmail", inbound(team, config, "<ask@customer.example>"))
    return filed["conversationId"], config


def inbound(team: Team, config: dict[str, Any], message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "workspaceId": team.workspace_id,
        "from": "ann@customer.example",
        "to": [config["forwardingAddress"]],
        "cc": [],
        "subject": "Broken invoice",
        "text": "My invoice total is wrong.",
        "html": "",
        "messageId": message_id,
        "references": [],
        **fields,
    }


async def test_an_email_reply_is_written_to_the_outbox_not_sent(backend: Backend, team: Team):
    conversation_id, config = await email_conversation(
        backend, team, fromName="Acme Support", signature="Acme, since 1999"
    )
    reply = {"conversationId": conversation_id, "content": "We fixed it.\nSorry!"}
    message_id = await backend.call("emailChannel:sendEmailReply", reply, as_=team.admin)

    [sent] = await outbox(backend)
    assert (sent["purpose"], sent["provider"], sent["status"]) == ("conversation-reply", "outbox", "written-to-outbox")
    assert sent["to"] == ["ann@customer.example"] and sent["from"] == f'"Acme Support" <{config["forwardingAddress"]}>'
    assert (sent["subject"], sent["replyTo"]) == ("Re: Broken invoice", config["forwardingAddress"])
    assert (sent["inReplyTo"], sent["references"]) == ("<ask@customer.example>", ["<ask@customer.example>"])
    assert sent["text"] == "We fixed it.\nSorry!\n\n-- \nAcme, since 1999" and "<br>" in sent["html"]
    assert sent["conversationId"] == conversation_id

    messages = await backend.call("messages:list", {"conversationId": conversation_id}, as_=team.admin)
    message = messages[-1]
    assert (message["_id"], message["senderType"], message["content"]) == (message_id, "agent", reply["content"])
    assert (message["channel"], message["deliveryStatus"]) == ("email", "pending")
    assert message["emailMetadata"]["messageId"] == sent["messageId"]
    conversation = await backend.get(conversation_id)
    assert conversation["unreadByVisitor"] == 1.0

    # Ann answers our reply: her In-Reply-To is the outbox message's id, and it threads back.
    answer = inbound(team, config, "<thanks@customer.example>", subject="Thanks", inReplyTo=sent["messageId"])
    assert (await backend.internal("emailChannel:processInboundEmail", answer))["conversationId"] == conversation_id
    await backend.call("emailChannel:sendEmailReply", {**reply, "content": "You're welcome"}, as_=team.admin)
    second = (await outbox(backend))[-1]
    assert second["inReplyTo"] == "<thanks@customer.example>"
    assert second["references"] == [sent["messageId"], "<thanks@customer.example>"]


async def test_replies_need_an_agent_an_email_conversation_and_an_enabled_channel(backend: Backend, team: Team):
    conversation_id, _ = await email_conversation(backend, team)
    reply = {"conversationId": conversation_id, "content": "hello"}
    await backend.refused("emailChannel:sendEmailReply", reply, code="NOT_AUTHENTICATED")
    stranger = (await backend.seed_team()).admin
    await backend.refused("emailChannel:sendEmailReply", reply, as_=stranger, code="NOT_WORKSPACE_MEMBER")
    viewer = await backend.add_member(team, "viewer")
    await backend.refused("emailChannel:sendEmailReply", reply, as_=viewer, code="PERMISSION_DENIED")

    chat = await backend.visitor_conversation(await backend.boot(team.workspace_id, email="c@example.com"))
    refusal = await backend.refused("emailChannel:sendEmailReply", {**reply, "conversationId": chat}, as_=team.admin)
    assert refusal == {"code": "INVALID_INPUT", "message": "Conversation is not an email conversation"}
    await backend.call(
        "emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id, "enabled": False}, as_=team.admin
    )
    await backend.refused("emailChannel:sendEmailReply", reply, as_=team.admin, code="INVALID_INPUT")
    assert await outbox(backend) == []


async def test_channel_settings_belong_to_integration_managers(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    agent = await backend.add_member(team, "agent")
    assert await backend.call("emailChannel:getEmailConfig", ws) is None
    assert await backend.call("emailChannel:getEmailConfig", ws, as_=agent) is None
    await backend.refused("emailChannel:upsertEmailConfig", ws, code="NOT_AUTHENTICATED")
    await backend.refused("emailChannel:upsertEmailConfig", ws, as_=agent, code="PERMISSION_DENIED")
    bad_sender = {**ws, "fromEmail": "not an address"}
    await backend.refused("emailChannel:upsertEmailConfig", bad_sender, as_=team.admin, code="INVALID_INPUT")

    config_id = await backend.call("emailChannel:upsertEmailConfig", ws, as_=team.admin)
    renamed = {**ws, "fromName": "Acme", "fromEmail": "Help <HELP@acme.example>"}
    assert await backend.call("emailChannel:upsertEmailConfig", renamed, as_=team.admin) == config_id
    config = await backend.call("emailChannel:getEmailConfig", ws, as_=team.admin)
    assert (config["enabled"], config["fromEmail"], config["fromEmailVerified"]) == (True, "help@acme.example", False)
    assert config["forwardingAddress"] == f"inbox-{team.workspace_id[-8:]}@mail.opencom.app"

    conversation_id, _ = await email_conversation(backend, team)
    assert await backend.call("emailChannel:listEmailThreads", {"conversationId": conversation_id}) == []
    assert await backend.call("emailChannel:listEmailThreads", {"conversationId": conversation_id}, as_=agent) != []


async def test_a_taken_short_forwarding_address_falls_back_to_the_whole_id(backend: Backend, team: Team):
    short = f"inbox-{team.workspace_id[-8:]}@mail.opencom.app"
    other = await backend.seed_team()
    now = 1.0
    await backend.insert(
        "emailConfigs",
        {
            "workspaceId": other.workspace_id,
            "forwardingAddress": short,
            "enabled": True,
            "createdAt": now,
            "updatedAt": now,
        },
    )
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    config = await backend.call("emailChannel:getEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert config["forwardingAddress"] == f"inbox-{team.workspace_id}@mail.opencom.app"


# --- email-code sign-in ------------------------------------------------------------------------------
async def request_code(backend: Backend, email: str, **params: Any) -> str:
    """Ask for a code and read it from the newest outbox message, as a developer would."""
    started = await backend.call("auth:signIn", {"provider": EMAIL_CODE, "params": {"email": email, **params}})
    assert started == {"started": True}
    message = (await outbox(backend))[-1]
    assert (message["purpose"], message["status"], message["subject"]) == (
        "verification-code",
        "written-to-outbox",
        "Your Opencom verification code",
    )
    assert message["to"] == [email.strip().lower()] and "expires in 10 minutes" in message["html"]
    return re.search(r"\b(\d{6})\b", message["text"]).group(1)


async def sign_in_with_code(backend: Backend, email: str, code: str) -> Person:
    args = {"provider": EMAIL_CODE, "params": {"email": email, "code": code}}
    tokens = (await backend.call("auth:signIn", args))["tokens"]
    identity = await backend.executor.auth.verify(tokens["token"])
    return Person(identity["subject"].partition("|")[0], email)


async def test_an_emailed_code_signs_a_new_agent_in(backend: Backend):
    code = await request_code(backend, " New.Agent@Example.com ", name="New Agent")
    stored = (await backend.dump())["authVerificationCodes"]
    assert len(stored) == 1 and code not in str(stored)  # only a hash is kept
    person = await sign_in_with_code(backend, "new.agent@example.com", code)
    user = await backend.get(person.user_id)
    assert (user["email"], user["name"], user["role"]) == ("new.agent@example.com", "New Agent", "admin")
    assert user["emailVerificationTime"] > 0
    workspace = await backend.call("workspaces:getOrCreateDefault", as_=person)
    assert await backend.call("conversations:list", {"workspaceId": workspace["_id"]}, as_=person) == []

    assert await refusal_code(backend, "new.agent@example.com", code) == "InvalidVerificationCode"  # used up
    assert (await backend.dump())["authVerificationCodes"] == []


async def test_a_code_reaches_the_existing_user_of_that_email(backend: Backend, team: Team):
    code = await request_code(backend, team.admin.email)
    assert (await sign_in_with_code(backend, team.admin.email, code)).user_id == team.admin.user_id
    assert len((await backend.dump())["workspaces"]) == 1


async def refusal_code(backend: Backend, email: str, code: str) -> str:
    """The error code of signing in with ``code``."""
    result = await backend.run(
        "auth:signIn", {"provider": EMAIL_CODE, "params": {"email": email, "code": code}}
    )
    assert isinstance(result.error, ConvexError), result.value
    return result.error.data["code"]


def another_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_wrong_stale_and_replaced_codes_fail(backend: Backend):
    email = "careful@example.com"
    first = await request_code(backend, email)
    second = await request_code(backend, email)
    assert await refusal_code(backend, email, another_code(second)) == "InvalidVerificationCode"
    if first != second:  # a new request replaces the old code (equal only by a one-in-a-million chance)
        assert await refusal_code(backend, email, first) == "InvalidVerificationCode"
    [row] = (await backend.dump())["authVerificationCodes"]
    await backend.patch(row["_id"], {"expirationTime": 0.0})
    assert await refusal_code(backend, email, second) == "InvalidVerificationCode"


async def test_guessing_codes_is_rate_limited(backend: Backend, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(knobs, "AUTH_SIGN_IN_MAX_FAILURES", 3)
    email = "target@example.com"
    code = await request_code(backend, email)
    for _ in range(3):
        assert await refusal_code(backend, email, another_code(code)) == "InvalidVerificationCode"
    assert await refusal_code(backend, email, code) == "TooManyFailedAttempts"


async def test_nothing_is_ever_marked_sent(backend: Backend, team: Team):
    conversation_id, _ = await email_conversation(backend, team)
    await backend.call(
        "emailChannel:sendEmailReply", {"conversationId": conversation_id, "content": "hi"}, as_=team.admin
    )
    await request_code(backend, "someone@example.com")
    tables = await backend.dump()
    assert {row["status"] for row in tables["outbox"]} == {"written-to-outbox"}
    assert all(message.get("deliveryStatus") != "sent" for message in tables["messages"])


async def test_code_requests_are_limited_per_address_and_nothing_is_written_past_it(backend: Backend):
    for _ in range(backend.lib("email_codes").CODE_REQUESTS_PER_ADDRESS):
        await request_code(backend, "flooded@example.com")
    before = await backend.dump()
    refused = await backend.executor.run(
        "auth:signIn", {"provider": EMAIL_CODE, "params": {"email": "Flooded@Example.com"}}
    )
    assert isinstance(refused.error, ConvexError) and refused.error.data["code"] == "TooManyCodeRequests"
    assert await backend.dump() == before  # no code, no mail, no spent allowance
    assert (await request_code(backend, "someone-else@example.com")).isdigit()  # other addresses are unaffected
