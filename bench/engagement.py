"""What engagement targeting costs: eligibility per call against the number of active items, and
audience counts against the number of visitors. Every number is a ratio measured in one run.

    python bench/engagement.py [--quick] [--seconds 1]

Runs the Opencom app in this process on a fresh database in a temporary directory. Queries are
pure CPU work here (the data is cached), so they are timed in process CPU time. Prints one
``name: value`` line per number:

- ``eligibility_ratio_<query>``: the cost of one call of a widget eligibility query for one
  visitor with 100 active items, divided by the same call with one active item, in a workspace of
  10k visitors (1k with ``--quick``). Every item targets the visitor through a segment, so each
  one is evaluated; the ratio shows the cost follows the items, not the visitors.
- ``preview_ms_<rule>_<visitors>`` and ``preview_growth_<rule>``: ``segments:preview`` at 1k and
  100k visitors (10k with ``--quick``), each after a visitor census, and their ratio, for a rule
  the indexes answer (an event condition matched by 50 visitors: target growth about 1) and one
  they cannot (a custom attribute: exact up to 5k visitors, a sampled estimate beyond).
  ``visitor_growth`` is the growth of the visitor count itself, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "opencom"))

from opencom_backend import Backend, Team, open_backend  # noqa: E402

from runtime import internal_mutation, internal_query  # noqa: E402

BATCH = 1000
MATCHED_BUYERS = 50
PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
BOUGHT = {
    "type": "condition",
    "property": {"source": "event", "key": "purchase", "eventFilter": {"name": "purchase"}},
    "operator": "is_set",
}


@internal_mutation
async def add_visitors(ctx, args):
    """``count`` visitors numbered from ``start``; the first MATCHED_BUYERS ever made bought something."""
    for number in range(args["start"], args["start"] + args["count"]):
        visitor_id = await ctx.db.insert(
            "visitors",
            {
                "sessionId": f"bench-{number}",
                "workspaceId": args["workspaceId"],
                "customAttributes": {"plan": "pro" if number % 100 == 0 else "free"},
                "createdAt": 1.0,
            },
        )
        if number < MATCHED_BUYERS:
            event = {"workspaceId": args["workspaceId"], "visitorId": visitor_id, "name": "purchase"}
            await ctx.db.insert("events", {**event, "timestamp": 1.0, "eventType": "manual"})


@internal_query
async def census_jobs(ctx, args):
    """Ids and arguments of every census run ever scheduled (the job runner is off here)."""
    jobs = ctx.db.system.query("_scheduled_functions")
    return [[job["_id"], job["args"][0]] async for job in jobs if "takeVisitorCensus" in job["name"]]


async def take_census(backend: Backend, team: Team) -> None:
    """Count the workspace's visitors page by page, as the scheduled census does."""
    done = {job_id for job_id, _ in (await backend.executor.run_function(census_jobs, {})).unwrap()}
    await backend.internal("segments:takeVisitorCensus", {"workspaceId": team.workspace_id, "counted": 0.0})
    while True:
        pending = [(job_id, args) for job_id, args in (await backend.executor.run_function(census_jobs, {})).unwrap() if job_id not in done]
        if not pending:
            return
        for job_id, args in pending:
            done.add(job_id)
            await backend.internal("segments:takeVisitorCensus", args)


async def grow(backend: Backend, team: Team, have: int, want: int) -> int:
    for start in range(have, want, BATCH):
        args = {"workspaceId": team.workspace_id, "start": start, "count": min(BATCH, want - start)}
        (await backend.executor.run_function(add_visitors, args)).unwrap()
    return want


async def cpu_per_call(backend: Backend, path: str, args: dict[str, Any], seconds: float, as_: Any = None) -> float:
    """CPU seconds per call of ``path``, averaged over ``seconds`` of calls (at least three)."""
    calls, started = 0, time.process_time()
    while calls < 3 or time.process_time() - started < seconds:
        await backend.call(path, args, as_=as_)
        calls += 1
    return (time.process_time() - started) / calls


async def create_items(backend: Backend, team: Team, segment: str, count: int) -> None:
    """``count`` more active items of every kind, each targeting ``segment``."""
    ws, audience, admin = {"workspaceId": team.workspace_id}, {"segmentId": segment}, team.admin
    for number in range(count):
        tour = await backend.call("tours:create", {**ws, "name": f"tour {number}", "audienceRules": audience}, as_=admin)
        await backend.call("tourSteps:create", {"tourId": tour, "type": "post", "content": "hi"}, as_=admin)
        await backend.call("tours:activate", {"id": tour}, as_=admin)
        question = {"id": "q", "type": "nps", "title": "?", "required": True}
        survey = await backend.call(
            "surveys:create", {**ws, "name": f"s{number}", "format": "small", "questions": [question], "audienceRules": audience}, as_=admin
        )
        await backend.call("surveys:activate", {"id": survey}, as_=admin)
        message = {**ws, "type": "post", "name": f"m{number}", "content": {"body": "hi"}, "targeting": audience}
        await backend.call("outboundMessages:activate", {"id": await backend.call("outboundMessages:create", message, as_=admin)}, as_=admin)
        checklist = {**ws, "name": f"c{number}", "tasks": [], "targeting": audience}
        checklist_id = await backend.call("checklists:create", checklist, as_=admin)
        await backend.call("checklists:update", {"id": checklist_id, "status": "active"}, as_=admin)
        tooltip = {**ws, "name": f"t{number}", "elementSelector": "#x", "content": "hi", "triggerType": "hover", "audienceRules": audience}
        await backend.call("tooltips:create", tooltip, as_=admin)


async def eligibility(backend: Backend, team: Team, seconds: float) -> dict[str, float]:
    segment = await backend.call("segments:create", {"workspaceId": team.workspace_id, "name": "Pro", "audienceRules": PRO}, as_=team.admin)
    visitor = await backend.boot(team.workspace_id, customAttributes={"plan": "pro"})
    session = {"workspaceId": team.workspace_id, "sessionToken": visitor.token}
    queries = {
        "tours": ("tourProgress:getAvailableTours", {**session, "currentUrl": "https://x.test/"}),
        "surveys": ("surveys:getActiveSurveys", session),
        "outbound": ("outboundMessages:getEligible", {**session, "currentUrl": "https://x.test/"}),
        "checklists": ("checklists:getEligible", session),
        "tooltips": ("tooltips:getAvailableTooltips", session),
    }
    await create_items(backend, team, segment, 1)
    one = {name: await cpu_per_call(backend, path, args, seconds) for name, (path, args) in queries.items()}
    await create_items(backend, team, segment, 99)
    hundred = {name: await cpu_per_call(backend, path, args, seconds) for name, (path, args) in queries.items()}
    figures = {f"eligibility_ms_{name}_1": one[name] * 1000 for name in queries}
    figures |= {f"eligibility_ms_{name}_100": hundred[name] * 1000 for name in queries}
    figures |= {f"eligibility_ratio_{name}": hundred[name] / one[name] for name in queries}
    return figures


async def previews(backend: Backend, team: Team, sizes: tuple[int, int], seconds: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    have = 0
    for size in sizes:
        have = await grow(backend, team, have, size)
        await take_census(backend, team)
        for name, rule in (("event", BOUGHT), ("custom", PRO)):
            args = {"workspaceId": team.workspace_id, "audienceRules": rule}
            figures[f"preview_ms_{name}_{size}"] = await cpu_per_call(backend, "segments:preview", args, seconds, team.admin) * 1000
    small, large = sizes
    for name in ("event", "custom"):
        figures[f"preview_growth_{name}"] = figures[f"preview_ms_{name}_{large}"] / figures[f"preview_ms_{name}_{small}"]
    figures["visitor_growth"] = large / small
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k/10k visitors instead of 10k/100k")
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds of calls per measurement")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        backend = await open_backend(Path(directory) / "data")
        try:
            crowd, counted = await backend.seed_team("crowd"), await backend.seed_team("counted")  # seeding reads every table
            await grow(backend, crowd, 0, 1_000 if options.quick else 10_000)
            figures = await eligibility(backend, crowd, options.seconds)
            figures |= await previews(backend, counted, (1_000, 10_000 if options.quick else 100_000), options.seconds)
        finally:
            await backend.executor.close()
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
