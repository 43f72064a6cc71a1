"""What sending an email campaign costs: recipients per second against raw inserts of the same rows,
and how much a send slows an unrelated visitor's ``messages:send``. Ratios measured in one run.

    python bench/campaigns.py [--quick]

Runs the Opencom app in this process (the test harness, outbox provider) on a temporary database
of 10k and 100k visitors with an email (2k and 10k with ``--quick``). The send's chain of
scheduled steps is driven directly, back to back. Prints one ``name: value`` line per number:

- ``send_recipients_per_s_<n>`` and ``raw_inserts_per_s_<n>``: recipients resolved, rendered and
  written to the outbox per second, and the same rows (a recipient and an outbox email each)
  inserted directly in batches of the same size; ``send_vs_raw_<n>`` is their ratio.
- ``message_p99_ratio``: the p99 latency of a visitor's ``messages:send`` while a campaign sends,
  divided by the p99 with no campaign (target at most 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "opencom"))

from opencom_backend import Backend, Team, open_backend  # noqa: E402

BATCH = 25  # the send's page size, so the raw baseline commits as often
MESSAGES = 200


async def add_visitors(backend: Backend, team: Team, count: int) -> None:
    async def insert(ctx: Any, start: int) -> None:
        for number in range(start, min(start + 1000, count)):
            row = {"sessionId": f"b{number}", "workspaceId": team.workspace_id, "email": f"b{number}@example.com", "createdAt": 1.0}
            await ctx.db.insert("visitors", row)

    for start in range(0, count, 1000):
        await backend.t.run(lambda ctx, start=start: insert(ctx, start))


async def raw_inserts(backend: Backend, team: Team, campaign_id: str, count: int) -> float:
    async def insert(ctx: Any, start: int) -> None:
        visitors = await ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", team.workspace_id)).take(1)
        for number in range(start, min(start + BATCH, count)):
            recipient = {"campaignId": campaign_id, "visitorId": visitors[0]["_id"], "email": f"b{number}@example.com",
                         "trackingToken": "ect_" + "0" * 48, "status": "sent", "createdAt": 1.0}  # fmt: skip
            recipient_id = await ctx.db.insert("emailCampaignRecipients", recipient)
            await ctx.db.insert("outbox", {"purpose": "campaign", "from": "a@b.c", "to": [recipient["email"]], "subject": "s",
                                           "text": "t", "html": "<p>t</p>", "messageId": f"<{recipient_id}@b.c>",
                                           "recipientId": recipient_id, "provider": "outbox", "status": "written-to-outbox",
                                           "createdAt": 1.0})  # fmt: skip

    started = time.perf_counter()
    for start in range(0, count, BATCH):
        await backend.t.run(lambda ctx, start=start: insert(ctx, start))
    return count / (time.perf_counter() - started)


async def new_campaign(backend: Backend, team: Team) -> str:
    content = '<p>Hello {{user.email}}</p><a href="https://example.com/offer">Offer</a>'
    args = {"workspaceId": team.workspace_id, "name": "Bench", "subject": "Hi", "content": content}
    return await backend.call("emailCampaigns:create", args, as_=team.admin)


async def drain(backend: Backend, campaign_id: str) -> None:
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=backend.admin)  # type: ignore[attr-defined]
    run = await backend.t.run(lambda ctx: ctx.db.get(campaign_id))
    while (await backend.internal("emailCampaigns:sendProgress", {"campaignId": campaign_id}))["status"] == "sending":
        await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": run["sendRun"]})
        await asyncio.sleep(0)


async def message_latencies(backend: Backend, team: Team) -> list[float]:
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    message = {"conversationId": conversation, "senderType": "visitor", "senderId": visitor.visitor_id, "sessionToken": visitor.token}
    latencies = []
    for number in range(MESSAGES):
        started = time.perf_counter()
        await backend.call("messages:send", {**message, "content": f"m{number}"})
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0)
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def measure(count: int) -> dict[str, float]:
    backend = await open_backend()
    try:
        team = await backend.seed_team()
        backend.admin = team.admin  # type: ignore[attr-defined]
        await add_visitors(backend, team, count)
        raw = await raw_inserts(backend, team, await new_campaign(backend, team), count)
        campaign_id = await new_campaign(backend, team)
        started = time.perf_counter()
        await drain(backend, campaign_id)
        send = count / (time.perf_counter() - started)
        assert (await backend.internal("emailCampaigns:sendProgress", {"campaignId": campaign_id}))["stats"]["sent"] == count
        return {f"send_recipients_per_s_{count}": send, f"raw_inserts_per_s_{count}": raw, f"send_vs_raw_{count}": send / raw}
    finally:
        await backend.close()


async def interference(count: int) -> dict[str, float]:
    backend = await open_backend()
    try:
        team = await backend.seed_team()
        backend.admin = team.admin  # type: ignore[attr-defined]
        await add_visitors(backend, team, count)
        quiet = await message_latencies(backend, team)
        campaign_id = await new_campaign(backend, team)
        sending = asyncio.create_task(drain(backend, campaign_id))
        busy = await message_latencies(backend, team)
        await sending
        return {"message_p99_ms_quiet": p99(quiet) * 1000, "message_p99_ms_sending": p99(busy) * 1000,
                "message_p99_ratio": p99(busy) / p99(quiet)}  # fmt: skip
    finally:
        await backend.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2k and 10k recipients instead of 10k and 100k")
    options = parser.parse_args()
    sizes = (2_000, 10_000) if options.quick else (10_000, 100_000)
    results: dict[str, float] = {}
    for size in sizes:
        results |= await measure(size)
    results |= await interference(sizes[0])
    for name, value in results.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
