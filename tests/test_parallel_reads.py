"""``ctx.db`` calls awaited together in queries and mutations (``asyncio.gather`` is Convex's
``Promise.all``): results in request order, errors as the calls raise them (convex-semantics §3.2, §3.11)."""

from __future__ import annotations

from runtime.functions.executor import Executor


async def insert_items(executor: Executor, *values: dict) -> list[str]:
    return await executor.call("db:apply", {"steps": [{"op": "insert", "table": "items", "value": v} for v in values]})


async def test_gathered_gets_come_back_in_request_order(core: Executor) -> None:
    """§3.2: each get returns its document (or null for a deleted one), in the order asked."""
    first, second, gone = await insert_items(core, {"a": 1}, {"a": 2}, {"a": 3})
    await core.call("db:apply", {"steps": [{"op": "delete", "id": gone}]})
    documents = await core.call("parallel:get_all", {"ids": [second, gone, first]})
    assert [document and document["a"] for document in documents] == [2, None, 1]


async def test_gathered_terminals_and_tasks(core: Executor) -> None:
    """§3.11: every terminal works when awaited together, and tasks may be awaited in any order."""
    ids = await insert_items(core, {"a": 1}, {"a": 2}, {"a": 3})
    collected, first, taken, unique = await core.call("parallel:terminals", {"a": 2})
    assert [doc["_id"] for doc in collected] == ids[::-1]
    assert first["_id"] == ids[0] and [doc["_id"] for doc in taken] == ids[:2] and unique["_id"] == ids[1]
    swapped = await core.call("parallel:tasks", {"ids": ids[:2]})
    assert [doc["_id"] for doc in swapped] == [ids[1], ids[0]]


async def test_gathered_inserts_commit_in_request_order(core: Executor) -> None:
    """§3.3: inserts awaited together all commit; ids come back in the order of the calls."""
    ids = await core.call("parallel:insert_all", {"values": [{"a": 1}, {"a": 2}]})
    stored = await core.call("db:select", {"table": "items"})
    assert [doc["_id"] for doc in stored] == ids and [doc["a"] for doc in stored] == [1, 2]


async def test_an_invalid_id_among_gathered_gets_fails_the_query(core: Executor) -> None:
    """§2.3: a string that is not an id fails with `Unable to decode ID`, gathered or not."""
    [valid] = await insert_items(core, {"a": 1})
    result = await core.run("parallel:get_all", {"ids": [valid, "nonsense"]})
    assert str(result.error) == "Unable to decode ID: Invalid ID length 8"


async def test_waiting_inside_a_gather_is_still_refused(core: Executor) -> None:
    """§4.1: queries and mutations cannot wait on timers, gathered or not."""
    result = await core.run("parallel:sleeps_in_gather")
    assert str(result.error) == (
        "Can't use asynchronous I/O or timers (such as asyncio.sleep) in queries and mutations. "
        "Please consider using an action"
    )


async def test_a_task_error_nobody_retrieved_fails_the_function(core: Executor) -> None:
    """§8.2: an unhandled rejection fails the function."""
    result = await core.run("parallel:forgets_a_failed_task")
    assert str(result.error) == "Unable to decode ID: Invalid ID length 8"


async def test_tasks_still_pending_at_return_never_run(core: Executor) -> None:
    """Nothing runs after a function returned: a task it never let run is cancelled, not committed."""
    assert await core.call("parallel:leaves_a_task_unstarted") == "finished"
    assert await core.call("db:select", {"table": "items"}) == []
