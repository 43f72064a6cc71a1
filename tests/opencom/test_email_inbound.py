"""Inbound email through ``POST /email/inbound``: Svix-signed webhooks filed as email conversations.

Requests are signed in the test itself (HMAC-SHA256 over ``"<svix-id>.<svix-timestamp>.<body>"``
with the base64 key of a ``whsec_`` secret), so a mistake in the app's verifier cannot hide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

import pytest
from opencom_backend import Backend, Team

from runtime.testing import TestResponse

SECRET = "whsec_" + base64.b64encode(b"inbound-email-test-secret-0001").decode()
_ids = itertools.count()


def svix_headers(body: bytes, *, secret: str = SECRET, timestamp: int | None = None, message_id: str | None = None):
    """The three headers Svix sends with ``body``, signed now (or at ``timestamp``)."""
    message_id = message_id or f"msg_{next(_ids)}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": "v1," + base64.b64encode(digest).decode(),
    }


async def post(backend: Backend, body: bytes, headers: dict[str, str], path: str = "/email/inbound") -> TestResponse:
    return await backend.t.fetch(path, method="POST", headers=headers, body=body)


async def deliver(backend: Backend, payload: dict[str, Any], **signing: Any) -> tuple[int, dict[str, Any]]:
    """POST ``payload`` signed with ``SECRET``; returns (status, JSON body)."""
    body = json.dumps(payload).encode()
    outcome = await post(backend, body, svix_headers(body, **signing))
    return outcome.status, json.loads(outcome.body)


def email(to: str, **fields: Any) -> dict[str, Any]:
    """A Resend inbound payload from Ann, with its own Message-ID unless ``headers`` says otherwise."""
    return {
        "from": "Ann Customer <Ann@Customer.example>",
        "to": [to],
        "subject": "Broken invoice",
        "text": "My invoice total is wrong.",
        "headers": {"Message-ID": f"<m{next(_ids)}@customer.example>"},
        **fields,
    }


@pytest.fixture
async def inbox(backend: Backend, team: Team) -> str:
    """The team's forwarding address, with the webhook secret configured."""
    await backend.t.set_env("RESEND_WEBHOOK_SECRET", SECRET)
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    config = await backend.call("emailChannel:getEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    return config["forwardingAddress"]


async def test_a_signed_email_becomes_an_email_conversation(backend: Backend, team: Team, inbox: str):
    assert inbox.startswith("inbox-") and inbox.endswith("@mail.opencom.app")
    status, filed = await deliver(backend, email(f"Support <{inbox.upper()}>", cc="boss@customer.example"))
    assert status == 200 and filed["success"] is True

    conversation = await backend.call("conversations:get", {"id": filed["conversationId"]}, as_=team.admin)
    assert (conversation["channel"], conversation["subject"], conversation["status"]) == (
        "email",
        "Broken invoice",
        "open",
    )
    assert conversation["unreadByAgent"] == 1.0
    visitor = await backend.call("visitors:get", {"id": conversation["visitorId"]}, as_=team.admin)
    assert (visitor["email"], visitor["name"]) == ("ann@customer.example", "Ann Customer")
    assert visitor["readableId"] and visitor["sessionId"].startswith("email-ann@customer.example-")

    [message] = await backend.call("messages:list", {"conversationId": filed["conversationId"]}, as_=team.admin)
    assert message["_id"] == filed["messageId"]
    assert (message["senderType"], message["senderId"], message["channel"]) == ("visitor", visitor["_id"], "email")
    assert message["content"] == "My invoice total is wrong."
    metadata = message["emailMetadata"]
    assert (metadata["from"], metadata["to"], metadata["cc"]) == (
        "ann@customer.example",
        [inbox],
        ["boss@customer.example"],
    )
    threads = await backend.call(
        "emailChannel:listEmailThreads", {"conversationId": filed["conversationId"]}, as_=team.admin
    )
    assert [(t["messageId"], t["senderEmail"], t["normalizedSubject"]) for t in threads] == [
        (metadata["messageId"], "ann@customer.example", "broken invoice")
    ]


async def test_html_wins_and_the_api_prefixed_route_works_too(backend: Backend, team: Team, inbox: str):
    body = json.dumps({"type": "email.received", "data": email(inbox, html="<p>Rich</p>")}).encode()
    outcome = await post(backend, body, svix_headers(body), path="/api/email/inbound")
    assert outcome.status == 200
    [message] = await backend.call(
        "messages:list", {"conversationId": json.loads(outcome.body)["conversationId"]}, as_=team.admin
    )
    assert message["content"] == "<p>Rich</p>"


async def test_replies_continue_their_conversation(backend: Backend, team: Team, inbox: str):
    first = email(inbox, headers={"Message-ID": "<first@customer.example>"})
    _, filed = await deliver(backend, first)
    conversation_id = filed["conversationId"]

    by_in_reply_to = email(inbox, subject="Re: Broken invoice", headers={"In-Reply-To": "<first@customer.example>"})
    assert (await deliver(backend, by_in_reply_to))[1]["conversationId"] == conversation_id
    unknown_parent = "<unknown@x> <first@customer.example>"
    by_references = email(inbox, subject="other subject", headers={"References": unknown_parent})
    assert (await deliver(backend, by_references))[1]["conversationId"] == conversation_id
    by_subject = email(inbox, subject="RE:   broken   INVOICE", headers={})
    assert (await deliver(backend, by_subject))[1]["conversationId"] == conversation_id

    conversation = await backend.call("conversations:get", {"id": conversation_id}, as_=team.admin)
    assert conversation["unreadByAgent"] == 4.0
    messages = await backend.call("messages:list", {"conversationId": conversation_id}, as_=team.admin)
    assert len(messages) == 4

    someone_else = email(inbox, **{"from": "eve@elsewhere.example", "headers": {}})
    assert (await deliver(backend, someone_else))[1]["conversationId"] != conversation_id
    fresh_subject = email(inbox, subject="A new question")
    assert (await deliver(backend, fresh_subject))[1]["conversationId"] != conversation_id


async def test_a_reply_reopens_a_closed_conversation(backend: Backend, team: Team, inbox: str):
    _, filed = await deliver(backend, email(inbox, headers={"Message-ID": "<closed@customer.example>"}))
    await backend.call(
        "conversations:updateStatus", {"id": filed["conversationId"], "status": "closed"}, as_=team.admin
    )
    reply = email(inbox, headers={"In-Reply-To": "<closed@customer.example>"})
    assert (await deliver(backend, reply))[1]["conversationId"] == filed["conversationId"]
    conversation = await backend.get(filed["conversationId"])
    assert conversation["status"] == "open" and "resolvedAt" not in conversation


async def test_a_known_sender_keeps_their_visitor(backend: Backend, team: Team, inbox: str):
    visitor = await backend.boot(team.workspace_id, email="ann@customer.example", name="Ann")
    _, filed = await deliver(backend, email(inbox))
    assert (await backend.get(filed["conversationId"]))["visitorId"] == visitor.visitor_id
    listed = await backend.call(
        "conversations:listByVisitor", {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    )
    assert [row["_id"] for row in listed] == [filed["conversationId"]]


async def test_a_forwarded_email_starts_a_conversation_for_its_author(backend: Backend, team: Team, inbox: str):
    _, original = await deliver(backend, email(inbox, headers={"Message-ID": "<thread@customer.example>"}))
    forwarded_text = (
        "From: Agent <agent@team.example>\nSee below.\n\n---------- Forwarded message ---------\n"
        "From: Bob Buyer <Bob@Buyer.example>\nDate: Mon\nSubject: Refund\n\nI want a refund."
    )
    forwarded = email(
        inbox,
        **{"from": "agent@team.example"},
        subject="Fwd: Refund",
        text=forwarded_text,
        headers={"In-Reply-To": "<thread@customer.example>"},
    )
    status, filed = await deliver(backend, forwarded)
    assert status == 200 and filed["conversationId"] != original["conversationId"]
    conversation = await backend.get(filed["conversationId"])
    visitor = await backend.get(conversation["visitorId"])
    assert (visitor["email"], visitor["name"], conversation["subject"]) == ("bob@buyer.example", "Bob Buyer", "Refund")

    without_author = email(inbox, subject="FW: hi", text="no From line here")  # filed under the forwarder
    _, filed = await deliver(backend, without_author)
    assert (await backend.get((await backend.get(filed["conversationId"]))["visitorId"]))["email"] == (
        "ann@customer.example"
    )


async def test_one_email_to_two_workspaces_is_filed_in_each(backend: Backend, team: Team, inbox: str):
    other = await backend.seed_team()
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": other.workspace_id}, as_=other.admin)
    other_inbox = (
        await backend.call("emailChannel:getEmailConfig", {"workspaceId": other.workspace_id}, as_=other.admin)
    )["forwardingAddress"]
    shared = {"Message-ID": "<shared@customer.example>"}
    _, here = await deliver(backend, email(inbox, headers=shared))
    _, there = await deliver(backend, email(other_inbox, headers=shared))
    assert (await backend.get(there["conversationId"]))["workspaceId"] == other.workspace_id
    reply = {"In-Reply-To": "<shared@customer.example>"}
    assert (await deliver(backend, email(inbox, subject="x", headers=reply)))[1]["conversationId"] == here[
        "conversationId"
    ]
    assert (await deliver(backend, email(other_inbox, subject="y", headers=reply)))[1]["conversationId"] == (
        there["conversationId"]
    )


async def test_a_retried_webhook_is_filed_once(backend: Backend, team: Team, inbox: str):
    body = json.dumps(email(inbox, headers={})).encode()  # no Message-ID: the svix-id names it
    headers = svix_headers(body, message_id="msg_retry")
    first = await post(backend, body, headers)
    before = await backend.dump()
    again = await post(backend, body, headers)
    assert (first.status, again.status) == (200, 200) and first.body == again.body
    assert len((await backend.dump())["messages"]) == len(before["messages"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"drop": "svix-signature"}, "Missing signature"),
        ({"drop": "svix-timestamp"}, "Invalid signature"),
        ({"secret": "whsec_" + base64.b64encode(b"someone-else").decode()}, "Invalid signature"),
        ({"skew": -6 * 60}, "Invalid signature"),  # seconds off the clock when the test runs
        ({"skew": 6 * 60}, "Invalid signature"),
        ({"tamper": True}, "Invalid signature"),
    ],
)
async def test_unsigned_forged_or_stale_requests_write_nothing(
    backend: Backend, team: Team, inbox: str, change: dict, reason: str
):
    body = json.dumps(email(inbox)).encode()
    # Six minutes off the backend's clock (it stands still): outside Svix's five-minute tolerance.
    timestamp = int(backend.t.now_ms() / 1000) + change["skew"] if "skew" in change else None
    headers = svix_headers(body, secret=change.get("secret", SECRET), timestamp=timestamp)
    headers.pop(change.get("drop", ""), None)
    if change.get("tamper"):
        body = body.replace(b"Ann Customer", b"Eve Attacker")
    before = await backend.dump()
    outcome = await post(backend, body, headers)
    assert (outcome.status, json.loads(outcome.body)) == (401, {"error": reason})
    assert await backend.dump() == before


async def test_without_a_secret_the_webhook_is_refused_unless_enforcement_is_off(backend: Backend, team: Team):
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin)
    inbox = (await backend.call("emailChannel:getEmailConfig", {"workspaceId": team.workspace_id}, as_=team.admin))[
        "forwardingAddress"
    ]
    body = json.dumps(email(inbox)).encode()
    before = await backend.dump()
    refused = await post(backend, body, {})
    assert (refused.status, json.loads(refused.body)) == (401, {"error": "Webhook configuration error"})
    assert await backend.dump() == before

    await backend.t.set_env("ENFORCE_WEBHOOK_SIGNATURES", "false")
    assert (await post(backend, body, {})).status == 200
    await backend.t.set_env("RESEND_WEBHOOK_SECRET", SECRET)
    assert (await post(backend, body, {})).status == 401  # a configured secret is always enforced


async def test_unknown_recipients_disabled_channels_and_garbage(backend: Backend, team: Team, inbox: str):
    assert await deliver(backend, email("inbox-nobody00@mail.opencom.app")) == (404, {"error": "Unknown recipient"})
    await backend.call(
        "emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id, "enabled": False}, as_=team.admin
    )
    assert await deliver(backend, email(inbox)) == (403, {"error": "Email channel disabled"})
    for body in (b"not json", json.dumps({"to": [inbox], "subject": "no sender"}).encode()):
        assert (await post(backend, body, svix_headers(body))).status == 400
    assert (await backend.dump())["messages"] == []


async def test_deeply_nested_json_is_a_400_not_a_crash(backend: Backend, team: Team, inbox: str):
    body = b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    outcome = await post(backend, body, svix_headers(body))
    assert outcome.status == 400
    assert json.loads(outcome.body) == {"error": "Invalid inbound email: the JSON is nested too deeply"}
    assert (await backend.dump())["messages"] == []


async def test_filing_mail_is_server_only(backend: Backend, team: Team):
    args = {
        "workspaceId": team.workspace_id,
        "from": "eve@evil.example",
        "to": [],
        "cc": [],
        "subject": "hi",
        "text": "",
        "html": "",
        "messageId": "<x@evil.example>",
        "references": [],
    }
    for path in ("emailChannel:processInboundEmail", "emailChannel:processForwardedEmail"):
        result = await backend.run(path, args, as_=team.admin)
        assert result.error is not None and "Could not find public function" in str(result.error)
    assert (await backend.dump())["messages"] == []
