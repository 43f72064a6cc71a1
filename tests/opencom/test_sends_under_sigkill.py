"""Exactly once under SIGKILL: a server killed in the middle of a campaign send or of a series wait,
then restarted, has written one email per recipient (per series email block) — none missing, none twice.

The work is started through the app on a data directory that the real server then opens (its job
runner walks the scheduled steps); the test kills it with SIGKILL part-way, restarts it on the
same directory and waits for the work to finish, then counts the outbox.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from opencom_backend import APP_ROOT, open_backend

from tests.server_fixtures import RunningServer, start_server

RECIPIENTS = 2_000
NO_EMAIL = 50  # visitors without an address: never recipients
DEADLINE_S = 120.0


async def _add_visitors(ctx, args):
    for number in range(args["from"], args["to"]):
        email = f"r{number}@example.com" if number < RECIPIENTS else None
        fields = {"workspaceId": args["workspaceId"], "sessionId": f"s{number}", "createdAt": 1.0}
        await ctx.db.insert("visitors", {**fields, "email": email} if email else fields)


async def _query(server: RunningServer, path: str, args: dict[str, Any]) -> Any:
    request = {"path": path, "args": args, "format": "json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/query", json=request, headers=server.admin_headers) as response:
            body = await response.json()
    assert body["status"] == "success", body
    return body["value"]


async def _wait(server: RunningServer, campaign_id: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        progress = await _query(server, "emailCampaigns:sendProgress", {"campaignId": campaign_id})
        if progress is not None and done(progress):
            return progress
        await asyncio.sleep(0.05)
    raise AssertionError(f"the send did not get there in time: {progress}\n{server.log()[-3000:]}")


async def test_a_send_killed_midway_delivers_each_recipient_exactly_once(tmp_path: Path):
    data = tmp_path / "data"
    backend = await open_backend(data)
    team = await backend.seed_team()
    for start in range(0, RECIPIENTS + NO_EMAIL, 500):
        args = {"workspaceId": team.workspace_id, "from": start, "to": min(start + 500, RECIPIENTS + NO_EMAIL)}
        await backend.t.run(lambda ctx, args=args: _add_visitors(ctx, args))
    campaign_id = await backend.call(
        "emailCampaigns:create",
        {"workspaceId": team.workspace_id, "name": "Crash", "subject": "Hello", "content": "<p>Hi {{user.email}}</p>"},
        as_=team.admin,
    )
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=team.admin)
    await backend.close()

    server = start_server(APP_ROOT, data)
    try:
        midway = await _wait(server, campaign_id, lambda p: p["stats"]["sent"] >= RECIPIENTS // 3)
        server.kill()
        assert midway["status"] == "sending"
        server.restart()
        finished = await _wait(server, campaign_id, lambda p: p["status"] == "sent")
    finally:
        server.stop()
    assert finished["recipientCount"] == RECIPIENTS and finished["stats"]["sent"] == RECIPIENTS

    backend = await open_backend(data)
    try:
        dump = await backend.dump()
    finally:
        await backend.close()
    emails = [row for row in dump["outbox"] if row.get("campaignId") == campaign_id]
    addresses = [row["to"][0] for row in emails]
    assert len(addresses) == RECIPIENTS and set(addresses) == {f"r{n}@example.com" for n in range(RECIPIENTS)}
    recipients = [row for row in dump["emailCampaignRecipients"] if row["campaignId"] == campaign_id]
    assert len(recipients) == RECIPIENTS and {row["status"] for row in recipients} == {"sent"}
    assert sorted(row["recipientId"] for row in emails) == sorted(row["_id"] for row in recipients)


SERIES_VISITORS = 40
WAIT_MS = 8_000.0


async def test_a_series_wait_interrupted_by_sigkill_sends_each_step_once(tmp_path: Path):
    data = tmp_path / "data"
    backend = await open_backend(data)
    team = await backend.seed_team()
    admin, ws = team.admin, {"workspaceId": team.workspace_id}
    await backend.call("emailChannel:upsertEmailConfig", {**ws, "enabled": True}, as_=admin)
    series_id = await backend.call("series:create", {**ws, "name": "Drip"}, as_=admin)
    until = time.time() * 1000 + WAIT_MS
    blocks = []
    for kind, config in (("email", {"subject": "One", "body": "1"}), ("wait", {"waitType": "until_date", "waitUntilDate": until}),
                         ("email", {"subject": "Two", "body": "2"})):  # fmt: skip
        block = {"seriesId": series_id, "type": kind, "position": {"x": 0.0, "y": 0.0}, "config": config}
        blocks.append(await backend.call("series:addBlock", block, as_=admin))
    for source, target in zip(blocks, blocks[1:]):
        await backend.call("series:addConnection", {"seriesId": series_id, "fromBlockId": source, "toBlockId": target}, as_=admin)
    await backend.call("series:activate", {"id": series_id}, as_=admin)
    for number in range(SERIES_VISITORS):
        visitor = await backend.boot(team.workspace_id)
        await backend.patch(visitor.visitor_id, {"email": f"s{number}@example.com"})
        await backend.internal("series:evaluateEntry", {"seriesId": series_id, "visitorId": visitor.visitor_id})
    await backend.close()

    server = start_server(APP_ROOT, data)
    try:
        assert await _query(server, "series:progressSummary", {"seriesId": series_id}) == {"waiting": SERIES_VISITORS}
        server.kill()  # every visitor is waiting: the kill lands in the middle of the wait
        server.restart()
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            progress = await _query(server, "series:progressSummary", {"seriesId": series_id})
            if progress.get("completed") == SERIES_VISITORS:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the series did not finish: {progress}\n{server.log()[-3000:]}")
    finally:
        server.stop()

    backend = await open_backend(data)
    try:
        dump = await backend.dump()
    finally:
        await backend.close()
    sent = sorted((row["to"][0], row["subject"]) for row in dump["outbox"] if row["purpose"] == "series")
    assert sent == sorted((f"s{n}@example.com", subject) for n in range(SERIES_VISITORS) for subject in ("One", "Two"))
    completions = [row for row in dump["seriesProgressHistory"] if row["action"] == "completed"]
    assert len(completions) == 3 * SERIES_VISITORS  # each block completed once per visitor
