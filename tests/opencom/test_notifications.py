"""Notifications: agents hear of new conversations, visitor replies, assignments and tickets; visitors
of agent replies while away; preferences decide the channels; bursts are debounced."""

from __future__ import annotations

from typing import Any

from opencom_backend import Backend, Team


async def run_due_jobs(backend: Backend) -> None:
    """Run the jobs due now: agents' deliveries are scheduled by the write that caused them."""
    await backend.t.advance_time(0)
    await backend.t.finish_in_progress_scheduled_functions()


async def sent(backend: Backend) -> list[tuple[str, str]]:
    """Notification emails in the outbox, once the deliveries due now have run."""
    await run_due_jobs(backend)
    return [(row["to"][0], row["subject"]) for row in (await backend.dump())["outbox"] if row["purpose"] == "notification"]


async def test_a_burst_of_visitor_messages_gives_each_agent_one_email_and_one_push_record(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent")
    await backend.call("pushTokens:register", {"token": "agent-phone", "userId": agent.user_id, "platform": "ios"}, as_=agent)
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    emails = await sent(backend)
    assert sorted(emails) == sorted([(team.admin.email, "New conversation"), (agent.email, "New conversation")])
    message = {"conversationId": conversation, "senderType": "visitor", "senderId": visitor.visitor_id, "sessionToken": visitor.token}
    for text in ("hello", "anyone?"):
        await backend.call("messages:send", {**message, "content": text})
    assert len(await sent(backend)) == 2  # within the window of the conversation's notification: nothing more
    for row in (await backend.dump())["notificationDedupeKeys"]:
        await backend.patch(row["_id"], {"createdAt": row["createdAt"] - 60_000.0})  # the window has passed
    for text in ("hello??", "please"):
        await backend.call("messages:send", {**message, "content": text})
    await run_due_jobs(backend)
    dump = await backend.dump()
    chat_events = [e for e in dump["notificationEvents"] if e["eventType"] == "chat_message"]
    assert [e["bodyPreview"] for e in chat_events] == ["hello", "anyone?", "hello??", "please"]  # the in-app feed has all
    new_message_mails = [e for e in await sent(backend) if e[1] == "New visitor message"]
    assert sorted(new_message_mails) == sorted([(team.admin.email, "New visitor message"), (agent.email, "New visitor message")])
    pushes = [d for d in dump["notificationDeliveries"] if d.get("userId") == agent.user_id]
    assert len(pushes) == 2 and {d["reason"] for d in pushes} == {"no transport configured"}  # conversation + one burst


async def test_preferences_and_assignment_choose_who_is_told(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent")
    ws = {"workspaceId": team.workspace_id}
    await backend.call("notificationSettings:updateMyPreferences", {**ws, "newVisitorMessageEmail": False}, as_=team.admin)
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    assert await sent(backend) == [(agent.email, "New conversation")]
    await backend.call("conversations:assign", {"id": conversation, "agentId": agent.user_id}, as_=team.admin)
    message = {"conversationId": conversation, "senderType": "visitor", "senderId": visitor.visitor_id, "sessionToken": visitor.token}
    await backend.call("messages:send", {**message, "content": "hi"})
    events: list[dict[str, Any]] = (await backend.dump())["notificationEvents"]
    assert [e["eventType"] for e in events] == ["new_conversation", "assignment", "chat_message"]
    subjects = [subject for to, subject in await sent(backend) if to == agent.email]
    assert subjects == ["New conversation", "A conversation was assigned to you"]  # the message falls in the window


async def test_an_agent_reply_emails_a_visitor_only_while_away(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    await backend.patch(visitor.visitor_id, {"email": "ann@example.com", "lastSeenAt": 0.0})
    conversation = await backend.visitor_conversation(visitor)
    reply = {"conversationId": conversation, "senderType": "agent", "senderId": team.admin.user_id}
    await backend.call("messages:send", {**reply, "content": "We fixed it"}, as_=team.admin)
    assert ("ann@example.com", "New reply to your conversation") in await sent(backend)
    other = await backend.boot(team.workspace_id)
    await backend.patch(other.visitor_id, {"email": "bob@example.com"})
    await backend.call("widgetSessions:boot", {"workspaceId": team.workspace_id, "sessionId": other.session_id})  # seen now
    second = await backend.visitor_conversation(other)
    await backend.call("messages:send", {**reply, "conversationId": second, "content": "Hi"}, as_=team.admin)
    assert all(to != "bob@example.com" for to, _ in await sent(backend))


async def test_ticket_changes_reach_the_visitor_assignee_and_agents_debounced_per_ticket(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent")
    visitor = await backend.boot(team.workspace_id)
    await backend.patch(visitor.visitor_id, {"email": "ann@example.com"})
    own = {"visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    ticket = await backend.call("tickets:create", {"workspaceId": team.workspace_id, **own, "subject": "Refund", "formData": {}})
    await backend.call("tickets:update", {"id": ticket, "assigneeId": agent.user_id}, as_=team.admin)
    await backend.call("tickets:update", {"id": ticket, "status": "in_progress"}, as_=agent)
    await backend.call("tickets:update", {"id": ticket, "status": "in_progress"}, as_=agent)  # no change: no news
    await backend.call("tickets:addComment", {"ticketId": ticket, "content": "Looking into it"}, as_=agent)
    await backend.call("tickets:addComment", {"ticketId": ticket, "content": "note to self", "isInternal": True}, as_=agent)
    await backend.call("tickets:addComment", {"ticketId": ticket, **own, "content": "Thanks!"})
    await backend.call("tickets:resolve", {"id": ticket, "resolutionSummary": "Refunded"}, as_=agent)
    events = [(e["eventType"], e["audience"]) for e in (await backend.dump())["notificationEvents"] if e["domain"] == "ticket"]
    assert events == [
        ("ticket_created", "agent"), ("ticket_assigned", "agent"), ("ticket_status_changed", "visitor"),
        ("ticket_comment", "visitor"), ("ticket_customer_reply", "agent"), ("ticket_resolved", "visitor"),
    ]  # fmt: skip
    mails = await sent(backend)
    assert [subject for to, subject in mails if to == "ann@example.com"] == ["Ticket update"]  # one per ticket a window
    assert [subject for to, subject in mails if to == agent.email] == ["New ticket", "Ticket assigned"]  # the reply: same window
    for row in (await backend.dump())["notificationDedupeKeys"]:
        await backend.patch(row["_id"], {"createdAt": row["createdAt"] - 60_000.0})  # the window has passed
    await backend.call("tickets:update", {"id": ticket, "status": "submitted"}, as_=agent)
    await backend.call("tickets:addComment", {"ticketId": ticket, **own, "content": "It came back"})
    mails = await sent(backend)
    assert [subject for to, subject in mails if to == "ann@example.com"] == ["Ticket update", "Ticket update"]
    assert [subject for to, subject in mails if to == agent.email][-1] == "Customer replied to ticket"
    assert [subject for to, subject in mails if to == team.admin.email] == ["New ticket"]  # replies go to the assignee


async def with_expo(backend: Backend, url: str) -> None:
    await backend.t.set_env("OPENCOM_PUSH_TRANSPORT", "expo")
    await backend.t.set_env("OPENCOM_EXPO_PUSH_URL", url)


async def test_agent_pushes_go_to_expo_once_and_a_dead_device_is_switched_off(
    backend: Backend, team: Team, expo: tuple[list[Any], str]
):
    received, url = expo
    await with_expo(backend, url)
    agent = await backend.add_member(team, "agent")
    for token in ("ExponentPushToken[phone]", "ExponentPushToken[dead]"):
        await backend.call("pushTokens:register", {"token": token, "userId": agent.user_id, "platform": "ios"}, as_=agent)
    visitor = await backend.boot(team.workspace_id)
    await backend.visitor_conversation(visitor)
    await run_due_jobs(backend)  # the agents' delivery
    [row] = [d for d in (await backend.dump())["notificationDeliveries"] if d.get("userId") == agent.user_id]
    assert row["status"] == "pending" and received == []  # sent by a job the conversation's transaction scheduled
    await run_due_jobs(backend)
    await backend.internal("notifications:dispatchPush", {"deliveryId": row["_id"]})  # a repeated job sends nothing
    [batch] = received
    assert sorted(m["to"] for m in batch) == ["ExponentPushToken[dead]", "ExponentPushToken[phone]"]
    assert batch[0]["title"] == "New conversation"
    assert (await backend.get(row["_id"]))["status"] == "delivered"
    tokens = {t["token"]: t for t in (await backend.dump())["pushTokens"]}
    assert tokens["ExponentPushToken[dead]"]["notificationsEnabled"] is False
    assert tokens["ExponentPushToken[phone]"].get("notificationsEnabled") is not False


async def test_a_series_push_block_reaches_the_visitors_device_through_expo(
    backend: Backend, team: Team, expo: tuple[list[Any], str]
):
    received, url = expo
    await with_expo(backend, url)
    series = await backend.call("series:create", {"workspaceId": team.workspace_id, "name": "Nudge"}, as_=team.admin)
    block = {"seriesId": series, "type": "push", "position": {"x": 0.0, "y": 0.0}, "config": {"title": "Hi", "body": "Come back"}}
    await backend.call("series:addBlock", block, as_=team.admin)
    await backend.call("series:activate", {"id": series}, as_=team.admin)
    visitor = await backend.boot(team.workspace_id)
    device = {"visitorId": visitor.visitor_id, "token": "ExponentPushToken[ann]", "platform": "ios", "sessionToken": visitor.token}
    await backend.call("visitorPushTokens:register", device)
    await backend.internal("series:evaluateEntry", {"seriesId": series, "visitorId": visitor.visitor_id})
    await run_due_jobs(backend)
    assert [[(m["to"], m["body"]) for m in batch] for batch in received] == [[("ExponentPushToken[ann]", "Come back")]]
    [row] = [d for d in (await backend.dump())["notificationDeliveries"] if d.get("visitorId") == visitor.visitor_id]
    assert row["status"] == "delivered"


async def test_a_window_widens_to_the_agents_it_did_not_cover(backend: Backend, team: Team):
    first, second = await backend.add_member(team, "agent"), await backend.add_member(team, "agent")
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    for agent in (first, second, first):  # reassigned within the minute: each new assignee hears once
        await backend.call("conversations:assign", {"id": conversation, "agentId": agent.user_id}, as_=team.admin)
    assigned = [to for to, subject in await sent(backend) if subject == "A conversation was assigned to you"]
    assert sorted(assigned) == sorted([first.email, second.email])
    windows = [row for row in (await backend.dump())["notificationDedupeKeys"] if row["dedupeKey"].startswith("assignment:")]
    assert {row["channel"]: sorted(row["agents"]) for row in windows} == {
        channel: sorted([first.user_id, second.user_id]) for channel in ("email", "push")
    }
