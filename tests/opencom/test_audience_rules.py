"""The audience-rule engine: one visitor's eligibility agrees with the workspace count, bad rules are refused.

The counting side reads indexes (emails, last-seen ranges, events by name and time) to pick
candidates; the property test checks that this never changes the answer: for random rules and
random visitors with random event histories, ``segments:preview`` counts exactly the visitors
that one-visitor evaluation accepts.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from audience_strategies import invalid_rules, rules, visitors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opencom_backend import Backend, open_backend

from runtime import internal_query

DAY_MS = 86_400_000.0


class _World:
    """One backend for the whole property run (a fresh workspace per example)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.TemporaryDirectory()
        self.backend: Backend = self.loop.run_until_complete(open_backend(Path(self.directory.name) / "data"))

    def close(self) -> None:
        self.loop.run_until_complete(self.backend.close())
        self.loop.close()
        self.directory.cleanup()


@pytest.fixture(scope="module")
def world():
    opened = _World()
    yield opened
    opened.close()


async def _populate(backend: Backend, population: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    team = await backend.seed_team()
    wall = float(time.time_ns() // 1_000_000)
    ids = []
    for index, visitor in enumerate(population):
        fields = {key: value for key, value in visitor.items() if key != "events"}
        visitor_id = await backend.insert(
            "visitors", {"sessionId": f"s-{index}", "workspaceId": team.workspace_id, "createdAt": wall, **fields}
        )
        ids.append(visitor_id)
        for name, days_ago in visitor["events"]:
            event = {"workspaceId": team.workspace_id, "visitorId": visitor_id, "name": name}
            await backend.insert("events", {**event, "timestamp": wall - days_ago * DAY_MS - 1.0, "eventType": "manual"})
    return team, ids


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rule=rules, population=st.lists(visitors(), max_size=6))
def test_workspace_count_agrees_with_one_visitor_evaluation(world: _World, rule: dict, population: list[dict]):
    backend = world.backend

    async def check() -> None:
        team, ids = await _populate(backend, population)
        each = (await backend.executor.run_function(_bound_evaluate(backend), {"rules": rule, "ids": ids})).unwrap()
        counted = await backend.call(
            "segments:preview", {"workspaceId": team.workspace_id, "audienceRules": rule}, as_=team.admin
        )
        assert counted == {"total": float(len(ids)), "matching": float(sum(each))}, (each, counted)

    world.loop.run_until_complete(check())


def _bound_evaluate(backend: Backend):
    """``_evaluate_each`` with the app's own ``audience`` module (the one the functions use)."""
    audience = backend.lib("audience")

    @internal_query
    async def evaluate(ctx, args):
        return [
            await audience.Audience(ctx, await ctx.db.get(visitor_id)).matches(args["rules"]) for visitor_id in args["ids"]
        ]

    return evaluate


WRITE_PATHS = {
    "segments:create": lambda ws, item, rules: {"workspaceId": ws, "name": "s", "audienceRules": rules},
    "segments:update": lambda ws, item, rules: {"id": item["segment"], "audienceRules": rules},
    "tours:create": lambda ws, item, rules: {"workspaceId": ws, "name": "t", "audienceRules": rules},
    "tours:update": lambda ws, item, rules: {"id": item["tour"], "audienceRules": rules},
    "surveys:create": lambda ws, item, rules: {"workspaceId": ws, "name": "s", "format": "small", "audienceRules": rules},
    "surveys:update": lambda ws, item, rules: {"id": item["survey"], "audienceRules": rules},
    "tooltips:create": lambda ws, item, rules: {
        "workspaceId": ws,
        "name": "t",
        "elementSelector": "#x",
        "content": "x",
        "triggerType": "hover",
        "audienceRules": rules,
    },
    "tooltips:update": lambda ws, item, rules: {"id": item["tooltip"], "audienceRules": rules},
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rule=invalid_rules(), path=st.sampled_from(sorted(WRITE_PATHS)))
def test_invalid_rules_are_refused_on_every_write_path(world: _World, rule: Any, path: str):
    backend = world.backend

    async def check() -> None:
        team = await backend.seed_team()
        valid = {"type": "group", "operator": "and", "conditions": []}
        ws = {"workspaceId": team.workspace_id}
        items = {
            "segment": await backend.call("segments:create", {**ws, "name": "s", "audienceRules": valid}, as_=team.admin),
            "tour": await backend.call("tours:create", {**ws, "name": "t"}, as_=team.admin),
            "survey": await backend.call("surveys:create", {**ws, "name": "s", "format": "small"}, as_=team.admin),
            "tooltip": await backend.call(
                "tooltips:create",
                {**ws, "name": "t", "elementSelector": "#x", "content": "x", "triggerType": "hover"},
                as_=team.admin,
            ),
        }
        before = await backend.dump()
        error = await backend.refused(path, WRITE_PATHS[path](team.workspace_id, items, rule), as_=team.admin, code="INVALID_INPUT")
        assert error["message"].startswith("Invalid audience rules")
        assert await backend.dump() == before

    world.loop.run_until_complete(check())
