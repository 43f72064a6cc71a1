"""Series: readiness before activation, enrollment by events, blocks, waits on the clock, retries, exits."""

from __future__ import annotations

from typing import Any

from opencom_backend import Backend, Team

DAY = 86_400_000.0
PRO = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}


class Builder:
    """Builds a series' graph through the public functions."""

    def __init__(self, backend: Backend, team: Team, series_id: str) -> None:
        self.backend, self.team, self.series_id = backend, team, series_id

    async def block(self, kind: str, **config: Any) -> str:
        args = {"seriesId": self.series_id, "type": kind, "position": {"x": 0.0, "y": 0.0}, "config": config}
        return await self.backend.call("series:addBlock", args, as_=self.team.admin)

    async def connect(self, source: str, target: str, condition: str | None = None) -> str:
        args = {"seriesId": self.series_id, "fromBlockId": source, "toBlockId": target}
        return await self.backend.call("series:addConnection", {**args, **({"condition": condition} if condition else {})}, as_=self.team.admin)


async def new_series(backend: Backend, team: Team, **fields: Any) -> Builder:
    args = {"workspaceId": team.workspace_id, "name": "Onboarding", "entryTriggers": [{"source": "event", "eventName": "signed_up"}], **fields}
    return Builder(backend, team, await backend.call("series:create", args, as_=team.admin))


def codes(issues: list[dict[str, Any]]) -> list[str]:
    return sorted(issue["code"] for issue in issues)


async def progress_of(backend: Backend, team: Team, series_id: str, visitor_id: str) -> dict[str, Any]:
    return await backend.call("series:getProgress", {"seriesId": series_id, "visitorId": visitor_id}, as_=team.admin)


async def process(backend: Backend, progress_id: str) -> None:
    await backend.internal("series:processProgress", {"progressId": progress_id})


async def test_readiness_names_exactly_what_blocks_activation(backend: Backend, team: Team):
    built = await new_series(backend, team, entryTriggers=[])
    report = await backend.call("series:readiness", {"id": built.series_id}, as_=team.admin)
    assert codes(report["blockers"]) == ["SERIES_GRAPH_EMPTY"] and not report["isReady"]
    rule = await built.block("rule")
    wait = await built.block("wait", waitType="duration", waitDuration=0.0)
    push = await built.block("push", title="Hi")
    stray = await built.block("chat")
    await built.connect(rule, wait, "yes")
    await built.connect(wait, push, "yes")
    report = await backend.call("series:getReadiness", {"id": built.series_id}, as_=team.admin)
    assert codes(report["blockers"]) == [
        "SERIES_MULTIPLE_ENTRY_PATHS", "SERIES_NON_RULE_CONDITIONAL_BRANCH", "SERIES_PUSH_CONTENT_REQUIRED",
        "SERIES_RULE_BRANCHES_REQUIRED", "SERIES_RULE_CONFIG_INVALID", "SERIES_WAIT_DURATION_INVALID",
    ]  # fmt: skip
    assert {"SERIES_ENTRY_TRIGGER_RECOMMENDED", "SERIES_CONTENT_BODY_RECOMMENDED", "SERIES_PUSH_DELIVERY_UNVERIFIED"} <= set(codes(report["warnings"]))
    refused = await backend.refused("series:activate", {"id": built.series_id}, as_=team.admin, code="SERIES_READINESS_BLOCKED")
    assert codes(refused["blockers"]) == codes(report["blockers"])
    assert (await backend.get(built.series_id))["status"] == "draft"

    await backend.call("series:removeBlock", {"id": stray}, as_=team.admin)
    await backend.call("series:updateBlock", {"id": rule, "config": {"rules": PRO}}, as_=team.admin)
    await backend.call("series:updateBlock", {"id": wait, "config": {"waitType": "duration", "waitDuration": 1.0, "waitUnit": "days"}}, as_=team.admin)
    await backend.call("series:updateBlock", {"id": push, "config": {"title": "Hi", "body": "there"}}, as_=team.admin)
    [bad] = [c for c in (await backend.call("series:getWithBlocks", {"id": built.series_id}, as_=team.admin))["connections"] if c["fromBlockId"] == wait]
    await backend.call("series:removeConnection", {"id": bad["_id"]}, as_=team.admin)
    await built.connect(wait, push)
    await built.connect(rule, push, "no")
    assert (await backend.call("series:readiness", {"id": built.series_id}, as_=team.admin))["blockers"] == []
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    copy = await backend.call("series:duplicate", {"id": built.series_id}, as_=team.admin)
    assert (await backend.call("series:readiness", {"id": copy}, as_=team.admin))["isReady"]


async def test_an_event_enrolls_a_visitor_who_is_emailed_once_waits_a_day_then_gets_tagged(
    backend: Backend, team: Team
):
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id, "enabled": True}, as_=team.admin)
    built = await new_series(backend, team)
    rule = await built.block("rule", rules=PRO)
    email = await built.block("email", subject="Welcome {{user.name}}", body="Glad you are here")
    wait = await built.block("wait", waitType="duration", waitDuration=1.0, waitUnit="days")
    tag = await built.block("tag", tagAction="add", tagName=" VIP ")
    chat = await built.block("chat", body="Try pro?")
    await built.connect(rule, email, "yes")
    await built.connect(rule, chat, "no")
    await built.connect(email, wait)
    await built.connect(wait, tag)
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)

    visitor = await backend.boot(team.workspace_id)
    await backend.patch(visitor.visitor_id, {"email": "ann@example.com", "name": "Ann", "customAttributes": {"plan": "pro"}})
    conversation = await backend.visitor_conversation(visitor)
    await backend.call("events:track", {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "name": "signed_up"})
    jobs = [job for job in (await backend.dump())["_scheduled_functions"] if job["name"] == "series.js:evaluateEnrollmentForVisitor"]
    assert len(jobs) == 1 and jobs[0]["args"][0]["triggerContext"] == {"source": "event", "eventName": "signed_up"}
    context = {"source": "event", "eventName": "other"}
    offered = {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id, "triggerContext": context}
    assert await backend.internal("series:evaluateEnrollmentForVisitor", offered) == {"evaluated": 1, "entered": 0}
    offered["triggerContext"] = jobs[0]["args"][0]["triggerContext"]
    assert await backend.internal("series:evaluateEnrollmentForVisitor", offered) == {"evaluated": 1, "entered": 1}
    assert await backend.internal("series:evaluateEnrollmentForVisitor", offered) == {"evaluated": 1, "entered": 0}  # once

    progress = await progress_of(backend, team, built.series_id, visitor.visitor_id)
    assert (progress["status"], progress["currentBlockId"]) == ("waiting", wait)
    assert progress["waitUntil"] == float(int(backend.t.now_ms())) + DAY
    outbox = [row for row in (await backend.dump())["outbox"] if row["purpose"] == "series"]
    assert [(row["to"], row["subject"]) for row in outbox] == [(["ann@example.com"], "Welcome Ann")]

    await process(backend, progress["_id"])  # not due: nothing happens
    assert (await progress_of(backend, team, built.series_id, visitor.visitor_id))["status"] == "waiting"
    await backend.t.advance_time(DAY / 1000)
    await process(backend, progress["_id"])
    await process(backend, progress["_id"])  # a duplicate wake-up changes nothing
    done = await progress_of(backend, team, built.series_id, visitor.visitor_id)
    assert done["status"] == "completed" and "currentBlockId" not in done
    assert [(h["blockId"], h["action"]) for h in done["history"]] == [
        (rule, "entered"), (rule, "completed"), (email, "completed"), (wait, "completed"), (tag, "completed"),
    ]  # fmt: skip
    tags = await backend.call("tags:getConversationTags", {"conversationId": conversation}, as_=team.admin)
    assert [t["name"] for t in tags] == ["vip"]
    assert len([row for row in (await backend.dump())["outbox"] if row["purpose"] == "series"]) == 1
    series = await backend.get(built.series_id)
    assert series["stats"] == {"entered": 1, "active": 0, "waiting": 0, "completed": 1, "exited": 0, "goalReached": 0, "failed": 0}
    listed = await backend.call("series:listProgress", {"seriesId": built.series_id, "status": "completed"}, as_=team.admin)
    assert [row["_id"] for row in listed] == [progress["_id"]]


async def test_a_failing_block_is_retried_with_back_off_then_the_progress_fails(
    backend: Backend, team: Team
):
    await backend.call("emailChannel:upsertEmailConfig", {"workspaceId": team.workspace_id, "enabled": True}, as_=team.admin)
    built = await new_series(backend, team, entryTriggers=[])
    await built.block("email", subject="s", body="b")
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    visitor = await backend.boot(team.workspace_id)  # no email address: the block fails
    entered = await backend.internal("series:evaluateEntry", {"seriesId": built.series_id, "visitorId": visitor.visitor_id})
    progress_id = entered["progressId"]
    for attempt, delay in ((1, 30_000.0), (2, 60_000.0)):
        row = await progress_of(backend, team, built.series_id, visitor.visitor_id)
        assert (row["status"], row["attemptCount"]) == ("waiting", attempt)
        assert row["lastExecutionError"] == "Visitor email is required for email block delivery."
        await backend.t.advance_time((delay - 1) / 1000)
        await process(backend, progress_id)
        assert (await progress_of(backend, team, built.series_id, visitor.visitor_id))["attemptCount"] == attempt
        await backend.t.advance_time(0.001)
        await process(backend, progress_id)
    row = await progress_of(backend, team, built.series_id, visitor.visitor_id)
    assert (row["status"], row["attemptCount"]) == ("failed", 3) and "failedAt" in row
    assert [h["action"] for h in row["history"]].count("failed") == 3


async def test_waits_for_an_event_and_exit_rules_end_a_journey(backend: Backend, team: Team):
    built = await new_series(backend, team, exitRules=PRO)
    wait = await built.block("wait", waitType="until_event", waitUntilEvent="paid")
    post = await built.block("post", body="Thanks")
    await built.connect(wait, post)
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    ann, bob = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    trigger = {"source": "event", "eventName": "signed_up"}
    for visitor in (ann, bob):
        await backend.internal("series:evaluateEntry", {"seriesId": built.series_id, "visitorId": visitor.visitor_id, "triggerContext": trigger})
    assert (await progress_of(backend, team, built.series_id, ann.visitor_id))["waitEventName"] == "paid"
    await backend.call("events:track", {"workspaceId": team.workspace_id, "sessionToken": ann.token, "name": "paid"})
    assert any(job["name"] == "series.js:resumeWaitingForEvent" for job in (await backend.dump())["_scheduled_functions"])
    resumed = await backend.internal("series:resumeWaitingForEvent", {"workspaceId": team.workspace_id, "visitorId": ann.visitor_id, "eventName": "paid"})
    assert resumed == {"matched": 1, "resumed": 1}
    assert (await progress_of(backend, team, built.series_id, ann.visitor_id))["status"] == "completed"

    await backend.patch(bob.visitor_id, {"customAttributes": {"plan": "pro"}})
    await backend.internal("series:resumeWaitingForEvent", {"workspaceId": team.workspace_id, "visitorId": bob.visitor_id, "eventName": "paid"})
    assert (await progress_of(backend, team, built.series_id, bob.visitor_id))["status"] == "exited"
    stats = await backend.call("series:getStats", {"id": built.series_id}, as_=team.admin)
    assert (stats["total"], stats["completed"], stats["exited"], stats["completionRate"]) == (2, 1, 1, 50.0)


async def bot_messages(backend: Backend, conversation_id: str) -> list[str]:
    rows = (await backend.dump())["messages"]
    return [row["content"] for row in rows if row["conversationId"] == conversation_id and row["senderType"] == "bot"]


async def test_chat_and_post_blocks_post_one_message_each_into_the_visitors_conversation(backend: Backend, team: Team):
    built = await new_series(backend, team, entryTriggers=[])
    chat = await built.block("chat", body="Hi {{user.name}}, need a hand?")
    wait = await built.block("wait", waitType="duration", waitDuration=1.0, waitUnit="hours")
    post = await built.block("post", body="What's new this week")
    await built.connect(chat, wait)
    await built.connect(wait, post)
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    ann = await backend.boot(team.workspace_id)
    await backend.patch(ann.visitor_id, {"name": "Ann"})
    conversation = await backend.visitor_conversation(ann)
    before = await bot_messages(backend, conversation)
    entered = await backend.internal("series:evaluateEntry", {"seriesId": built.series_id, "visitorId": ann.visitor_id})
    assert await bot_messages(backend, conversation) == [*before, "Hi Ann, need a hand?"]
    await backend.t.advance_time(3600)
    for _ in range(2):  # the wake-up and a duplicate of it
        await process(backend, entered["progressId"])
    assert await bot_messages(backend, conversation) == [*before, "Hi Ann, need a hand?", "What's new this week"]
    assert (await backend.get(conversation))["unreadByVisitor"] >= 2

    bob = await backend.boot(team.workspace_id)  # no conversation yet: the chat block starts one
    await backend.internal("series:evaluateEntry", {"seriesId": built.series_id, "visitorId": bob.visitor_id})
    [started] = [row for row in (await backend.dump())["conversations"] if row.get("visitorId") == bob.visitor_id]
    [message] = await bot_messages(backend, started["_id"])  # no welcome message, just the block's
    assert message.startswith("Hi") and message.endswith("need a hand?")


async def test_block_telemetry_counts_entries_outcomes_deliveries_branches_and_skips(backend: Backend, team: Team):
    built = await new_series(backend, team, entryTriggers=[], exitRules=PRO)
    rule = await built.block("rule", rules={**PRO, "value": "team"})
    push = await built.block("push", title="Hi", body="there")
    wait = await built.block("wait", waitType="duration", waitDuration=1.0, waitUnit="hours")
    chat = await built.block("chat", body="Hello")
    await built.connect(rule, push, "yes")
    await built.connect(rule, wait, "no")
    await built.connect(wait, chat)
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    visitors = [await backend.boot(team.workspace_id) for _ in range(3)]
    await backend.patch(visitors[0].visitor_id, {"customAttributes": {"plan": "team"}})  # yes: push, no token
    progress = {}
    for visitor in visitors:
        entered = await backend.internal("series:evaluateEntry", {"seriesId": built.series_id, "visitorId": visitor.visitor_id})
        progress[visitor.visitor_id] = entered["progressId"]
    await backend.patch(visitors[2].visitor_id, {"customAttributes": {"plan": "pro"}})  # exits while waiting
    await backend.t.advance_time(3600)
    for visitor in visitors[1:]:
        await process(backend, progress[visitor.visitor_id])
    telemetry = await backend.call("series:getTelemetry", {"id": built.series_id}, as_=team.admin)
    by_block = {row["blockId"]: row for row in telemetry["blocks"]}
    counters = ("entered", "completed", "skipped", "failed", "deliveryAttempts", "deliveryFailures")
    assert [by_block[rule][name] for name in counters] == [3, 3, 0, 0, 0, 0]
    assert (by_block[rule]["yesBranchCount"], by_block[rule]["noBranchCount"]) == (1, 2)
    assert [by_block[push][name] for name in counters] == [3, 0, 0, 3, 3, 3]  # no push token: three failed attempts
    assert by_block[push]["lastResult"]["error"] == "Visitor push token is required for push block delivery."
    assert [by_block[wait][name] for name in counters] == [2, 2, 0, 0, 0, 0]  # both waits end...
    assert [by_block[chat][name] for name in counters] == [1, 1, 1, 0, 1, 0]  # ...then one visitor exits on the chat
    assert telemetry["totals"]["entered"] == 9 and by_block[chat]["block"]["type"] == "chat"
    await backend.refused("series:getTelemetry", {"id": built.series_id}, as_=(await backend.seed_team()).admin)


async def test_a_tag_put_on_a_visitors_conversation_enrolls_them_in_series_triggered_by_it(backend: Backend, team: Team):
    trigger = {"source": "visitor_state_changed", "attributeKey": "tag", "toValue": "vip"}
    built = await new_series(backend, team, entryTriggers=[trigger])
    await built.block("chat", body="Welcome to VIP support")
    await backend.call("series:activate", {"id": built.series_id}, as_=team.admin)
    ann = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(ann)
    later_tag = await backend.call("tags:create", {"workspaceId": team.workspace_id, "name": "later"}, as_=team.admin)
    vip_tag = await backend.call("tags:create", {"workspaceId": team.workspace_id, "name": "vip"}, as_=team.admin)
    for tag_id in (later_tag, vip_tag, vip_tag):  # the second vip is already there: no new offer
        await backend.call("tags:addToConversation", {"conversationId": conversation, "tagId": tag_id}, as_=team.admin)
    jobs = [job for job in (await backend.dump())["_scheduled_functions"] if job["name"] == "series.js:evaluateEnrollmentForVisitor"]
    assert [job["args"][0]["triggerContext"]["toValue"] for job in jobs] == ["later", "vip"]
    await backend.t.finish_all_scheduled_functions()
    progress = await progress_of(backend, team, built.series_id, ann.visitor_id)
    assert progress["status"] == "completed" and progress["lastTriggerSource"] == "visitor_state_changed"
    assert (await bot_messages(backend, conversation))[-1] == "Welcome to VIP support"
