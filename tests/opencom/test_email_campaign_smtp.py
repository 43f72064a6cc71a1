"""Campaign email over SMTP: a recipient is marked sent only when the server accepted it.

A small SMTP server on 127.0.0.1 (asyncio streams) accepts every address except those containing
"refuse"; the deployment selects SMTP with ``OPENCOM_SMTP_*`` environment variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes

import pytest_asyncio
from opencom_backend import Backend, Team



class SmtpStub:
    """Just enough SMTP: records each accepted message; RCPT of an address containing "refuse" gets 550,
    and the connection drops, unanswered, after the DATA of a message to an address containing "drop"."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 stub ESMTP\r\n")
        dropping = False
        while line := await reader.readline():
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                writer.write(b"250 stub\r\n")
            elif command.startswith("RCPT") and "DROP" in command:
                dropping = True
                writer.write(b"250 ok\r\n")
            elif command.startswith("RCPT") and "REFUSE" in command:
                writer.write(b"550 no such user\r\n")
            elif command == "DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                self.messages.append(await reader.readuntil(b"\r\n.\r\n"))
                if dropping:
                    break
                writer.write(b"250 queued\r\n")
            elif command == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[tuple[SmtpStub, int]]:
    stub = SmtpStub()
    server = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
    async with server:
        yield stub, server.sockets[0].getsockname()[1]


async def test_smtp_delivery_confirms_accepted_addresses_and_gives_up_on_refused_ones(
    backend: Backend, team: Team, smtp: tuple[SmtpStub, int]
):
    stub, port = smtp
    for name, value in {"OPENCOM_SMTP_HOST": "127.0.0.1", "OPENCOM_SMTP_PORT": str(port), "OPENCOM_SMTP_SECURITY": "none"}.items():
        await backend.t.set_env(name, value)
    for email in ("ann@example.com", "refuse@example.com", "bob@example.com"):
        visitor = await backend.boot(team.workspace_id)
        await backend.patch(visitor.visitor_id, {"email": email})
    campaign_id = await backend.call(
        "emailCampaigns:create", {"workspaceId": team.workspace_id, "name": "S", "subject": "Hi", "content": "<p>x</p>"},
        as_=team.admin,
    )
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=team.admin)
    campaign = await backend.get(campaign_id)
    await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": campaign["sendRun"]})
    assert (await backend.get(campaign_id))["sendPhase"] == "delivering"
    assert [row for row in (await backend.dump())["outbox"] if row.get("campaignId")] == []  # SMTP, not the outbox
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert (stats["pending"], stats["sent"]) == (3, 0)  # nothing is sent before the server said so

    for _ in range(10):
        if (await backend.get(campaign_id))["status"] == "sent":
            break
        await backend.internal("emailCampaigns:deliverSmtpBatch", {"campaignId": campaign_id, "run": campaign["sendRun"]})
    recipients = {r["email"]: r for r in (await backend.dump())["emailCampaignRecipients"]}
    assert {email: r["status"] for email, r in recipients.items()} == {
        "ann@example.com": "sent", "bob@example.com": "sent", "refuse@example.com": "bounced",
    }  # fmt: skip
    assert recipients["refuse@example.com"]["attempts"] == 3 and "550" in recipients["refuse@example.com"]["error"]
    received = sorted(message_from_bytes(raw)["To"] for raw in stub.messages)
    assert received == ["ann@example.com", "bob@example.com"]
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert (stats["sent"], stats["bounced"], stats["pending"]) == (2, 1, 0)


async def test_a_message_in_flight_when_the_connection_drops_is_unconfirmed_the_rest_unsent(
    backend: Backend, smtp: tuple[SmtpStub, int]
):
    stub, port = smtp
    smtp_provider = backend.lib("smtp_provider")
    settings = smtp_provider.SmtpSettings("127.0.0.1", port, "none", None, None)
    emails = [
        {"recipientId": name, "from": "c@example.com", "to": f"{name}@example.com", "subject": "s", "text": "t",
         "html": "<p>t</p>", "messageId": f"<{name}@example.com>"}
        for name in ("ann", "drop", "bob")
    ]  # fmt: skip
    results = await asyncio.to_thread(smtp_provider.send_batch, settings, emails)
    # ann: accepted; drop: possibly accepted (never retried); bob: never handed over (retryable).
    assert [(r["recipientId"], r["ok"]) for r in results] == [("ann", True), ("drop", None), ("bob", False)]
    unreachable = smtp_provider.SmtpSettings("127.0.0.1", 1, "none", None, None)
    results = await asyncio.to_thread(smtp_provider.send_batch, unreachable, emails[:1])
    assert [(r["recipientId"], r["ok"]) for r in results] == [("ann", False)]
