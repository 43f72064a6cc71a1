"""``runtime.testing``: convex-test's behaviours on the real engine, through the pytest plugin's fixtures.

The app is ``tests/apps/harness`` (messages signed by the caller, counters bumped by scheduled
functions and a cron, HTTP routes). ``harness`` is ``convex_test_factory`` opened on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime import ConvexError
from runtime.functions.app_loader import load_app
from runtime.testing import ConvexTest, EndlessSchedulingError, NoNewResult, user_identity

APP = Path(__file__).parent / "apps" / "harness"


@pytest.fixture
async def t(convex_test_factory: Any) -> ConvexTest:
    return await convex_test_factory(APP)


# --- calls --------------------------------------------------------------------------------------
async def test_functions_are_called_by_path_or_by_function_object(t: ConvexTest) -> None:
    from tests.apps.harness.functions import messages  # the test's own import, not the harness's

    await t.mutation("messages:send", {"body": "by path"})
    await t.mutation(messages.send, {"body": "by object"})
    assert await t.query(messages.list_) == [["anonymous", "by path"], ["anonymous", "by object"]]
    assert await t.query("messages:whoami") is None  # internal functions are callable, as in convex-test


async def test_calling_a_function_as_the_wrong_kind_fails(t: ConvexTest) -> None:
    with pytest.raises(Exception, match=r"Trying to execute messages\.js:send as Query, but it is defined as Mutation"):
        await t.query("messages:send", {"body": "x"})


async def test_every_harness_starts_on_an_empty_database(convex_test_factory: Any) -> None:
    first = await convex_test_factory(APP)
    await first.mutation("messages:send", {"body": "only here"})
    second = await convex_test_factory(APP)
    assert await second.query("messages:list") == []
    assert first.executor.database.path != second.executor.database.path


async def test_the_context_manager_deletes_its_database(tmp_path: Path) -> None:
    async with ConvexTest(APP) as harness:
        await harness.mutation("messages:send", {"body": "x"})
        data_dir = harness.executor.database.path.parent
        assert data_dir.exists()
    assert not data_dir.exists()


# --- identity -----------------------------------------------------------------------------------
def test_identities_are_completed_as_convex_test_does() -> None:
    ada = user_identity({"name": "Ada", "subject": "user-1"})
    assert ada == {
        "name": "Ada",
        "subject": "user-1",
        "issuer": "https://convex.test",
        "tokenIdentifier": "https://convex.test|user-1",
    }
    derived = user_identity({"name": "Bo"})
    assert derived["subject"] == user_identity({"name": "Bo"})["subject"] != user_identity({"name": "Cy"})["subject"]
    assert user_identity({"tokenIdentifier": "custom"})["tokenIdentifier"] == "custom"


async def test_identity_propagates_into_nested_calls(t: ConvexTest) -> None:
    ada = t.with_identity({"name": "Ada", "subject": "ada"})
    token = "https://convex.test|ada"
    assert await ada.query("messages:whoami_nested") == {"outer": token, "inner": token}
    result = await ada.action("messages:whoami_from_action")
    assert result["query"] == token
    assert await t.query("messages:list") == [["Ada", "from action"]]
    assert await t.query("messages:whoami_nested") == {"outer": None, "inner": None}  # t itself is still anonymous


async def test_run_gives_a_real_ctx_and_returns_its_value(t: ConvexTest) -> None:
    async def seed(ctx: Any) -> str:
        return await ctx.db.insert("messages", {"author": "seed", "body": "hello"})

    message_id = await t.run(seed)

    async def read(ctx: Any) -> Any:
        return (await ctx.db.get(message_id))["body"]

    assert await t.run(read) == "hello"
    assert await t.with_identity({"subject": "s"}).run(lambda ctx: ctx.auth.get_user_identity()) == user_identity(
        {"subject": "s"}
    )


async def test_run_rolls_back_on_error(t: ConvexTest) -> None:
    async def write_then_fail(ctx: Any) -> None:
        await ctx.db.insert("messages", {"author": "ghost", "body": "boo"})
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await t.run(write_then_fail)
    with pytest.raises(ConvexError) as refused:
        await t.mutation("messages:send_then_fail", {"body": "doomed"})
    assert refused.value.data == {"code": "REFUSED", "message": "changed my mind"}
    assert await t.query("messages:list") == []


# --- scheduled functions and the clock ----------------------------------------------------------
async def test_time_stands_still_and_the_scheduler_runs_only_when_time_advances(t: ConvexTest) -> None:
    start = t.now_ms()
    await t.mutation("counters:bump_later", {"name": "later", "delaySeconds": 10.0})
    await t.finish_in_progress_scheduled_functions()
    assert t.now_ms() == start
    assert await t.query("counters:get", {"name": "later"}) == 0.0

    await t.advance_time(9.999)
    await t.finish_in_progress_scheduled_functions()
    assert await t.query("counters:get", {"name": "later"}) == 0.0
    await t.advance_time(0.001)
    await t.finish_in_progress_scheduled_functions()
    assert await t.query("counters:get", {"name": "later"}) == 1.0
    assert t.now_ms() == start + 10_000


async def test_finish_all_follows_chains_of_scheduled_functions(t: ConvexTest) -> None:
    start = t.now_ms()
    await t.mutation("counters:chain", {"name": "links", "remaining": 3.0})
    await t.finish_all_scheduled_functions()
    assert await t.query("counters:get", {"name": "links"}) == 4.0
    assert t.now_ms() == start + 3 * 60_000


async def test_finish_all_raises_on_an_endless_reschedule_loop(t: ConvexTest) -> None:
    await t.mutation("counters:chain", {"name": "forever", "remaining": -1.0})
    with pytest.raises(EndlessSchedulingError, match="too many iterations"):
        await t.finish_all_scheduled_functions(max_iterations=5)


async def test_crons_tick_as_time_advances(t: ConvexTest) -> None:
    assert await t.query("counters:get", {"name": "cron"}) == 0.0
    await t.advance_time(0)  # an interval cron is due as soon as it is deployed
    assert await t.query("counters:get", {"name": "cron"}) == 1.0
    await t.advance_time(35 * 60)  # three more ticks on the way, each at its own time
    assert await t.query("counters:get", {"name": "cron"}) == 4.0


# --- HTTP actions -------------------------------------------------------------------------------
async def test_fetch_routes_requests_to_the_http_router(t: ConvexTest) -> None:
    echoed = await t.fetch("/echo?x=1", method="POST", json_body={"hello": "world"})
    assert echoed.status == 200
    assert echoed.json()["body"] == {"hello": "world"} and echoed.json()["url"].endswith("/echo?x=1")
    assert (await t.fetch("/files/report.pdf")).text() == "report.pdf"
    assert (await t.fetch("/stream")).text() == "streamed body"  # a streamed body, read to its end
    created = await t.with_identity({"name": "Ada"}).fetch("/messages", method="POST", json_body={"body": "hi"})
    assert created.status == 201
    assert await t.query("messages:list") == [["Ada", "hi"]]


async def test_fetch_reports_missing_routes_and_failures_as_the_server_does(t: ConvexTest) -> None:
    missing = await t.fetch("/nowhere")
    assert (missing.status, missing.text()) == (404, "No HttpAction routed for /nowhere")
    assert (await t.fetch("/echo")).status == 404  # wrong method
    failed = await t.fetch("/fail")
    assert failed.status == 500 and failed.json()["data"] == {"code": "TEAPOT", "message": "short and stout"}
    with pytest.raises(ValueError, match="must start with a `/`"):
        await t.fetch("echo")


# --- subscriptions ------------------------------------------------------------------------------
async def test_subscribe_sees_exactly_the_committed_states_in_order(t: ConvexTest) -> None:
    ada = t.subscribe("messages:by_author", {"author": "Ada"})
    assert await ada.next() == []
    writer = t.with_identity({"name": "Ada"})
    await writer.mutation("messages:send", {"body": "one"})
    await t.mutation("messages:send", {"body": "not Ada's"})  # outside the read set: no new result
    with pytest.raises(ConvexError):
        await writer.mutation("messages:send_then_fail", {"body": "rolled back"})  # never committed
    await writer.mutation("messages:send", {"body": "two"})
    assert [value async for value in ada] == [["one"], ["one", "two"]]
    with pytest.raises(NoNewResult):
        await ada.next()


async def test_subscriptions_see_scheduled_writes_when_time_moves(t: ConvexTest) -> None:
    counter = t.subscribe("counters:get", {"name": "later"})
    assert await counter.next() == 0.0
    await t.mutation("counters:bump_later", {"name": "later", "delaySeconds": 1.0})
    assert counter.pending() == 0
    await t.advance_time(1)
    await t.finish_in_progress_scheduled_functions()
    assert await counter.next() == 1.0


# --- environment and determinism ----------------------------------------------------------------
async def test_env_vars_and_a_seed_make_runs_deterministic(convex_test_factory: Any) -> None:
    ids = []
    for _ in range(2):
        harness = await convex_test_factory(APP, env={"GREETING": "hej"}, seed=7, start_ms=1_700_000_000_000.0)
        assert await harness.query("counters:env") == "hej"
        ids.append(await harness.mutation("messages:send", {"body": "x"}))
        assert harness.now_ms() == 1_700_000_000_000.0
        await harness.close()
    assert ids[0] == ids[1]


def test_the_fixture_finds_the_app_above_the_test_file() -> None:
    from runtime.testing.plugin import find_app_dir

    assert find_app_dir(APP / "functions" / "deep") == APP
    assert load_app(APP).crons is not None
