"""What the agents' dashboard costs as a workspace grows, each figure beside a baseline from the same run.

    python bench/dashboard.py [--sizes 1000,10000,100000] [--agents 50] [--messages 20]

Prints one ``name: value`` line per number:

- ``inbox_first_page_ms@N`` and ``inbox_growth_{N}_vs_{smallest}``: ``conversations:listForInbox``'s
  first page (50 rows) in a workspace of N conversations, and its cost ÷ the smallest size's
  (target: flat, about 1).
- ``report_30d_ms@N``, ``report_rows_30d@N`` and ``report_growth_{N}_vs_{smallest}``:
  ``reporting:getConversationMetrics`` over the last 30 days once the ``report snapshots`` cron
  job has run (daily snapshots for the whole past days, rows for today and the partial first day),
  the conversations in that range (creation times spread over the last 45 days, so at 100k the
  range holds about 67k), and its cost ÷ the smallest size's, beside the range's growth
  ``range_growth_{N}_vs_{smallest}`` (target: no faster than the range; through snapshots only the
  rows of today and of the range's partial first day are read).
  ``report_30d_rows_only_ms@N`` and ``report_30d_rows_only_truncated@N``: the same report before
  any snapshot exists (rows only, cut at 20,000), the baseline; ``report_exact@N`` says whether the
  snapshot answer counts every conversation of the range.
- ``inbox_update_ms@K_agents`` and ``inbox_fanout_ratio_{K}_vs_1``: on the real server, a visitor's
  message → every one of K signed-in agents subscribed to the inbox holding the new first page
  (median over the messages), with K agents ÷ with 1.

Sizes are seeded in-process (``Executor``) with bulk inserts; the fan-out part starts
``python -m runtime.server`` on a fresh data directory and uses the Python client SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from server_fixtures import start_server  # noqa: E402

from client import AsyncConvexClient  # noqa: E402
from runtime import internal_mutation  # noqa: E402
from runtime.functions.executor import Executor  # noqa: E402

DAY_MS = 86_400_000.0
SPREAD_DAYS = 45
BATCH = 400  # inserts per seeding transaction (each well inside the 1 s function time limit)
RUNS = 7
WAIT_S = 60.0


@internal_mutation
async def _seed(ctx, args):
    """``count`` open conversations, numbered from ``start``, created evenly over the ``SPREAD_DAYS`` before ``now``."""
    step = SPREAD_DAYS * DAY_MS / args["total"]
    for n in range(args["start"], args["start"] + args["count"]):
        at = args["now"] - (args["total"] - n) * step
        await ctx.db.insert(
            "conversations",
            {"workspaceId": args["workspaceId"], "status": "open", "createdAt": at, "updatedAt": at,
             "lastMessageAt": at, "aiWorkflowState": "none"},
        )  # fmt: skip


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000.0, 3)


async def _timed(executor: Executor, path: str, args: dict[str, Any], identity: dict[str, Any]) -> tuple[float, Any]:
    samples = []
    value = (await executor.run(path, args, identity=identity)).unwrap()  # warm-up, not counted
    for _ in range(RUNS):
        started = time.perf_counter()
        value = (await executor.run(path, args, identity=identity)).unwrap()
        samples.append(time.perf_counter() - started)
    return _median_ms(samples), value


async def growth(sizes: list[int]) -> None:
    """The inbox page and the 30-day report at each size."""
    baseline: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as directory:
            executor = Executor.open(REPO, Path(directory) / "data", synchronous="OFF")
            executor.run_scheduled_jobs = False
            try:
                user_id = (await executor.run("users:createOrUpdateUser", {"email": "bench@example.com"},
                                              admin=True)).unwrap()  # fmt: skip
                workspace_id = (await executor.run("auth:currentUser", {}, identity=_identity(user_id))).unwrap()[
                    "user"]["workspaceId"]  # fmt: skip
                now = time.time() * 1000.0
                for start in range(0, size, BATCH):
                    args = {"workspaceId": workspace_id, "start": start, "count": min(BATCH, size - start),
                            "total": size, "now": now}  # fmt: skip
                    (await executor.run_function(_seed, args)).unwrap()
                identity = _identity(user_id)
                page_ms, page = await _timed(executor, "conversations:listForInbox", {"workspaceId": workspace_id},
                                             identity)  # fmt: skip
                assert len(page["conversations"]) == 50
                report_args = {"workspaceId": workspace_id, "startDate": now - 30 * DAY_MS, "endDate": now}
                rows_ms, rows_only = await _timed(executor, "reporting:getConversationMetrics", report_args, identity)
                await _refresh_snapshots(executor, workspace_id)
                report_ms, report = await _timed(executor, "reporting:getConversationMetrics", report_args, identity)
                step = SPREAD_DAYS * DAY_MS / size
                expected = sum(1 for n in range(size) if now - (size - n) * step >= now - 30 * DAY_MS)
            finally:
                await executor.close()
        rows = report["total"]
        print(f"inbox_first_page_ms@{size}: {page_ms}")
        print(f"report_30d_ms@{size}: {report_ms}")
        print(f"report_rows_30d@{size}: {int(rows)}")
        print(f"report_exact@{size}: {rows == expected and not report['truncated']}")
        print(f"report_30d_rows_only_ms@{size}: {rows_ms}")
        print(f"report_30d_rows_only_truncated@{size}: {rows_only['truncated']}")
        if not baseline:
            baseline = {"page": page_ms, "report": report_ms, "rows": rows, "size": size}
            continue
        smallest = baseline["size"]
        print(f"inbox_growth_{size}_vs_{smallest}: {round(page_ms / baseline['page'], 2)}")
        print(f"report_growth_{size}_vs_{smallest}: {round(report_ms / baseline['report'], 2)}")
        print(f"range_growth_{size}_vs_{smallest}: {round(rows / baseline['rows'], 2)}")


async def _refresh_snapshots(executor: Executor, workspace_id: str) -> None:
    """What the ``report snapshots`` cron job does for one workspace, step after step until done."""
    for _ in range(1000):
        args = {"workspaceId": workspace_id}
        step = (await executor.run("reporting:refreshWorkspaceSnapshots", args, admin=True)).unwrap()
        if not step["remaining"]:
            return
    raise RuntimeError("the snapshot refresh did not finish")


def _identity(user_id: str) -> dict[str, Any]:
    return {"subject": f"{user_id}|bench-session", "issuer": "bench", "tokenIdentifier": f"bench|{user_id}"}


async def _agent(url: str, email: str) -> AsyncConvexClient:
    client = AsyncConvexClient(url)
    await client.__aenter__()
    signed = await client.action("auth:signIn", {"provider": "password", "params": {
        "flow": "signUp", "email": email, "password": "Bench!password-1", "name": "Bench"}})  # fmt: skip
    accepted = asyncio.get_running_loop().create_future()
    client.set_auth(signed["tokens"]["token"], lambda ok: accepted.done() or accepted.set_result(ok))
    assert await asyncio.wait_for(accepted, WAIT_S)
    return client


async def fanout(agent_counts: list[int], messages: int) -> None:
    """A visitor's message reaching K subscribed agents' inboxes, for each K."""
    medians: dict[int, float] = {}
    for count in agent_counts:
        with tempfile.TemporaryDirectory() as directory:
            server = start_server(REPO, Path(directory) / "data")
            clients: list[AsyncConvexClient] = []
            try:
                owner = await _agent(server.url, "owner@bench.example")
                clients.append(owner)
                me = await owner.query("auth:currentUser", {})
                workspace_id = me["user"]["workspaceId"]
                emails = [f"agent{n}@bench.example" for n in range(count - 1)]
                for email in emails:
                    await owner.action("workspaceMembers:inviteToWorkspace",
                                       {"workspaceId": workspace_id, "email": email, "role": "agent"})  # fmt: skip
                clients += await asyncio.gather(*(_agent(server.url, email) for email in emails))
                visitor = AsyncConvexClient(server.url)
                await visitor.__aenter__()
                clients.append(visitor)
                booted = await visitor.mutation("widgetSessions:boot", {"workspaceId": workspace_id,
                                                                        "sessionId": "bench-visitor"})  # fmt: skip
                token = booted["sessionToken"]
                conversation = await visitor.mutation("conversations:createForVisitor",
                                                      {"workspaceId": workspace_id, "sessionToken": token})  # fmt: skip
                agents = clients[: count]
                samples = []
                for n in range(messages):
                    content = f"bench {n}"
                    seen = [asyncio.get_running_loop().create_future() for _ in agents]
                    unsubscribes = []
                    for agent, future in zip(agents, seen, strict=True):
                        def check(value: Any, future: asyncio.Future = future, content: str = content) -> None:
                            rows = value["conversations"]
                            if rows and (rows[0].get("lastMessage") or {}).get("content") == content and not future.done():
                                future.set_result(None)
                        unsubscribes.append(agent.on_update("conversations:listForInbox", {"workspaceId": workspace_id},
                                                            check))  # fmt: skip
                    await asyncio.sleep(0.05)
                    started = time.perf_counter()
                    await visitor.mutation("messages:send", {
                        "conversationId": conversation["_id"], "senderType": "visitor",
                        "senderId": booted["visitor"]["_id"], "content": content, "sessionToken": token})  # fmt: skip
                    await asyncio.wait_for(asyncio.gather(*seen), WAIT_S)
                    samples.append(time.perf_counter() - started)
                    for unsubscribe in unsubscribes:
                        unsubscribe()
                medians[count] = _median_ms(samples)
                print(f"inbox_update_ms@{count}_agents: {medians[count]}")
            finally:
                for client in clients:
                    await client.close()
                server.stop()
    smallest = min(medians)
    for count, value in medians.items():
        if count != smallest:
            print(f"inbox_fanout_ratio_{count}_vs_{smallest}: {round(value / medians[smallest], 2)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--skip-fanout", action="store_true", help="measure only the growth figures")
    options = parser.parse_args()
    asyncio.run(growth([int(size) for size in options.sizes.split(",")]))
    if not options.skip_fanout:
        asyncio.run(fanout([1, options.agents], options.messages))


if __name__ == "__main__":
    main()
