"""What sending an email campaign costs: recipients per second against raw inserts of the same rows,
and how much a send slows an unrelated visitor's ``messages:send``. Ratios measured in one run.

    python bench/campaigns.py [--quick] [--synchronous FULL|NORMAL|OFF] [--rounds 5]

Runs the Opencom app in this process as a server does (real clock, the scheduler running the
send's chain of steps, outbox provider, SQLite with ``--synchronous``, default the server's) on
temporary databases of 10k and 100k visitors with an email (2k and 10k with ``--quick``). Prints
one ``name: value`` line per number:

- ``send_recipients_per_s_<n>`` and ``raw_inserts_per_s_<n>``: recipients resolved, rendered and
  written to the outbox per second (from ``send`` until the campaign is sent), and the same rows
  (a recipient and an outbox email each) inserted directly, 25 per transaction;
  ``send_vs_raw_<n>`` is their ratio.
- ``message_p99_ratio``: a visitor sends a message every 10 ms; in each round the p99 of its
  ``messages:send`` latency while the campaign sends is divided by the p99 in the window just
  before, with the campaign paused. Median [min-max] over ``--rounds`` (fewer when the send
  ends first; ``rounds`` says how many), target at most 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "opencom"))

from opencom_backend import APP_ROOT, Backend, Team  # noqa: E402

from runtime.functions.executor import Executor  # noqa: E402

RAW_BATCH = 25  # rows per transaction of the raw baseline: the most one send step resolves
MESSAGE_EVERY_S = 0.01
WINDOW_MESSAGES = 100


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Deployment:
    """The app on a temporary database, its scheduler running, seeded with one team and its visitors."""

    def __init__(self, synchronous: str | None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="opencom-bench-"))
        self.executor = Executor.open(APP_ROOT, self.directory, synchronous=synchronous)
        self.backend = Backend(self.executor)
        self.team: Team

    async def __aenter__(self) -> Deployment:
        await self.executor.start()
        self.team = await self.backend.seed_team()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.backend.close()
        await self.executor.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    async def add_visitors(self, count: int) -> None:
        async def insert(ctx: Any, start: int) -> None:
            for number in range(start, min(start + 1000, count)):
                row = {"sessionId": f"b{number}", "workspaceId": self.team.workspace_id, "email": f"b{number}@example.com", "createdAt": 1.0}
                await ctx.db.insert("visitors", row)

        for start in range(0, count, 1000):
            await self.backend.t.run(lambda ctx, start=start: insert(ctx, start))

    async def new_campaign(self) -> str:
        content = '<p>Hello {{user.email}}</p><a href="https://example.com/offer">Offer</a>'
        args = {"workspaceId": self.team.workspace_id, "name": "Bench", "subject": "Hi", "content": content}
        return await self.campaign_call("create", args)

    async def campaign_call(self, name: str, args: dict[str, Any]) -> Any:
        return await self.backend.call(f"emailCampaigns:{name}", args, as_=self.team.admin)

    async def progress(self, campaign_id: str) -> dict[str, Any]:
        return await self.backend.internal("emailCampaigns:sendProgress", {"campaignId": campaign_id})

    async def until_sent(self, campaign_id: str) -> None:
        while (await self.progress(campaign_id))["status"] != "sent":
            await asyncio.sleep(0.01)

    async def raw_inserts(self, count: int) -> float:
        campaign_id = await self.new_campaign()

        async def insert(ctx: Any, start: int) -> None:
            visitors = ctx.db.query("visitors").with_index("by_workspace", lambda q: q.eq("workspaceId", self.team.workspace_id))
            visitor_id = (await visitors.first())["_id"]
            for number in range(start, min(start + RAW_BATCH, count)):
                recipient = {"campaignId": campaign_id, "visitorId": visitor_id, "email": f"b{number}@example.com",
                             "trackingToken": "ect_" + "0" * 48, "status": "sent", "createdAt": 1.0}  # fmt: skip
                recipient_id = await ctx.db.insert("emailCampaignRecipients", recipient)
                await ctx.db.insert("outbox", {"purpose": "campaign", "from": "a@b.c", "to": [recipient["email"]], "subject": "s",
                                               "text": "t", "html": "<p>t</p>", "messageId": f"<{recipient_id}@b.c>",
                                               "recipientId": recipient_id, "provider": "outbox", "status": "written-to-outbox",
                                               "createdAt": 1.0})  # fmt: skip

        started = time.perf_counter()
        for start in range(0, count, RAW_BATCH):
            await self.backend.t.run(lambda ctx, start=start: insert(ctx, start))
        return count / (time.perf_counter() - started)

    async def send(self, count: int) -> float:
        campaign_id = await self.new_campaign()
        started = time.perf_counter()
        await self.campaign_call("send", {"id": campaign_id})
        await self.until_sent(campaign_id)
        elapsed = time.perf_counter() - started
        assert (await self.progress(campaign_id))["stats"]["sent"] == count
        return count / elapsed


class Visitor:
    """An unrelated visitor writing in its conversation at a steady pace, timing each ``messages:send``."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.message: dict[str, Any] = {}
        self.sent = 0

    async def boot(self) -> None:
        backend = self.deployment.backend
        visitor = await backend.boot(self.deployment.team.workspace_id)
        conversation = await backend.visitor_conversation(visitor)
        self.message = {"conversationId": conversation, "senderType": "visitor", "senderId": visitor.visitor_id, "sessionToken": visitor.token}

    async def window(self) -> list[float]:
        latencies = []
        for _ in range(WINDOW_MESSAGES):
            started = time.perf_counter()
            self.sent += 1
            await self.deployment.backend.call("messages:send", {**self.message, "content": f"m{self.sent}"})
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, MESSAGE_EVERY_S - latencies[-1]))
        return latencies


async def throughput(count: int, synchronous: str | None) -> dict[str, float]:
    async with Deployment(synchronous) as deployment:
        await deployment.add_visitors(count)
        raw = await deployment.raw_inserts(count)
        send = await deployment.send(count)
    return {f"send_recipients_per_s_{count}": send, f"raw_inserts_per_s_{count}": raw, f"send_vs_raw_{count}": send / raw}


async def interference(count: int, rounds: int, synchronous: str | None) -> dict[str, str]:
    """Alternate windows with the campaign paused and sending; one p99 ratio per pair."""
    async with Deployment(synchronous) as deployment:
        await deployment.add_visitors(count)
        visitor = Visitor(deployment)
        await visitor.boot()
        campaign_id = await deployment.new_campaign()
        await deployment.campaign_call("send", {"id": campaign_id})
        quiet: list[float] = []
        busy: list[float] = []
        ratios: list[float] = []
        for _ in range(rounds):
            await deployment.campaign_call("pause", {"id": campaign_id})
            await asyncio.sleep(0.05)  # the step in progress finishes
            quiet.append(p99(await visitor.window()))
            await deployment.campaign_call("resume", {"id": campaign_id})
            sending = p99(await visitor.window())
            if (await deployment.progress(campaign_id))["status"] != "sending":
                break  # the send ended during the window: part of it was quiet
            busy.append(sending)
            ratios.append(busy[-1] / quiet[-1])
        assert ratios, "the campaign finished within the first window: use more recipients"
    return {
        "message_p99_ms_quiet": spread([value * 1000 for value in quiet]),
        "message_p99_ms_sending": spread([value * 1000 for value in busy]),
        "message_p99_ratio": spread(ratios),
        "rounds": str(len(ratios)),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2k and 10k recipients instead of 10k and 100k")
    parser.add_argument("--synchronous", default=None, help="SQLite synchronous mode (default: the server's)")
    parser.add_argument("--rounds", type=int, default=5, help="paused/sending window pairs for the p99 ratio")
    options = parser.parse_args()
    sizes = (2_000, 10_000) if options.quick else (10_000, 100_000)
    for size in sizes:
        for name, value in (await throughput(size, options.synchronous)).items():
            print(f"{name}: {value:.3f}", flush=True)
    for name, text in (await interference(sizes[1], options.rounds, options.synchronous)).items():
        print(f"{name}: {text}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
