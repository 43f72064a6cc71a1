"""Concurrent mutations and queries are serializable: the commit order explains every result.

Many transfers between accounts, audits inside mutations and balance queries are launched at
once. Afterwards the successful mutations are replayed one at a time, in commit-timestamp order,
against a plain dict of balances: every value the runtime returned must be the value the replay
computes at that point, every query must show the state of some commit timestamp, and money is
neither created nor lost (convex-semantics §4.1, §4.2).

The same history runs a second time with no CPU budget on the event loop, so that mutations leave
the writer and commit optimistically (``runtime.database.optimistic``): some may then fail with Convex's OCC
error, and those must have left no trace.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from runtime import knobs
from runtime.functions.executor import Executor, FunctionResult
from runtime.values.errors import OptimisticConcurrencyControlFailure
from tests.store_fixtures import BOTH_STORES

pytestmark = BOTH_STORES

ACCOUNTS = 6
OPENING_BALANCE = 100


def replay_transfer(balances: dict[str, int], names: dict[str, str], args: dict[str, Any]) -> dict[str, Any]:
    """``bank:transfer`` on the model."""
    source, target = names[args["source"]], names[args["target"]]
    seen_source = balances[source]
    if seen_source < args["amount"]:
        return {"moved": False, "seen": [seen_source, balances[target]]}
    balances[source] -= args["amount"]
    seen_target = balances[target]
    balances[target] += args["amount"]
    return {"moved": True, "seen": [seen_source, seen_target]}


def wrote(path: str, args: dict[str, Any], result: FunctionResult) -> bool:
    """Whether a call changed anything (a transfer to oneself leaves every document as it was)."""
    return path == "bank:transfer" and result.value["moved"] and args["source"] != args["target"]


@pytest.mark.parametrize("optimistic", [False, True], ids=["on_writer", "optimistic"])
async def test_concurrent_transfers_audits_and_queries_follow_the_commit_order(
    open_executor: Callable[..., Executor], monkeypatch: pytest.MonkeyPatch, optimistic: bool
) -> None:
    executor = open_executor()
    ids = [
        await executor.call("bank:open_account", {"name": f"acct{i}", "balance": OPENING_BALANCE})
        for i in range(ACCOUNTS)
    ]
    names = {doc_id: f"acct{i}" for i, doc_id in enumerate(ids)}
    rng = random.Random(7)
    calls: list[tuple[str, dict[str, Any]]] = []
    for _ in range(240):
        roll = rng.random()
        if roll < 0.7:
            args = {"source": rng.choice(ids), "target": rng.choice(ids), "amount": rng.randint(1, 80)}
            calls.append(("bank:transfer", args))
        elif roll < 0.85:
            calls.append(("bank:audit", {}))
        else:
            calls.append(("bank:balances", {}))

    async def launch(path: str, args: dict[str, Any]) -> FunctionResult:
        # A random pause so that queries interleave with groups of commits in many ways.
        await asyncio.sleep(rng.random() * 0.01)
        return await executor.run(path, args)

    if optimistic:
        monkeypatch.setattr(knobs, "LOOP_CPU_BUDGET_S", 0.0)
    results = await asyncio.gather(*(launch(path, args) for path, args in calls))
    failed = {index for index, result in enumerate(results) if not result.ok}
    allowed = OptimisticConcurrencyControlFailure if optimistic else ()
    assert all(isinstance(results[index].error, allowed) for index in failed), [results[i].error for i in failed]

    # Writers have unique timestamps; a read-only mutation reports the timestamp of the state it
    # read, so it is ordered right after the writer of that timestamp.
    mutations = [
        (result.ts, 0 if wrote(path, args, result) else 1, index)
        for index, ((path, args), result) in enumerate(zip(calls, results, strict=True))
        if path != "bank:balances" and index not in failed
    ]
    writer_ts = [ts for ts, read_only, _ in mutations if not read_only]
    assert len(writer_ts) == len(set(writer_ts)), "two writing mutations share a commit timestamp"

    balances = {name: OPENING_BALANCE for name in names.values()}
    states: dict[int, dict[str, int]] = {}
    for ts, _, index in sorted(mutations):
        path, args = calls[index]
        expected = replay_transfer(balances, names, args) if path == "bank:transfer" else dict(balances)
        assert results[index].value == expected, f"{path} {args} at ts {ts}"
        states[ts] = dict(balances)
        assert sum(balances.values()) == ACCOUNTS * OPENING_BALANCE

    # Every query saw exactly the state left by the last commit at or before its snapshot.
    initial = {name: OPENING_BALANCE for name in names.values()}
    for (path, _), result in zip(calls, results, strict=True):
        if path != "bank:balances":
            continue
        earlier = [ts for ts in states if ts <= result.ts]
        expected_state = states[max(earlier)] if earlier else initial
        assert result.value == expected_state
        assert sum(result.value.values()) == ACCOUNTS * OPENING_BALANCE

    assert await executor.call("bank:balances") == balances


async def test_a_mutation_acknowledged_before_a_query_starts_is_visible_to_it(
    open_executor: Callable[..., Executor],
) -> None:
    executor = open_executor()
    account = await executor.call("bank:open_account", {"name": "solo", "balance": 1})
    for expected in range(2, 12):
        other = await executor.call("bank:open_account", {"name": f"o{expected}", "balance": 0})
        done = await executor.run("bank:transfer", {"source": other, "target": account, "amount": 0})
        query = await executor.run("bank:balances")
        assert query.ts is not None and done.ts is not None and query.ts >= done.ts
        assert len(query.value) == expected
