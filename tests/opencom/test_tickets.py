"""Tickets: filed by visitors from the widget or opened by agents, with conversations' access rules."""

from opencom_backend import Backend, Team, Visitor


async def _file(backend: Backend, visitor: Visitor, **fields) -> str:
    args = {"workspaceId": visitor.workspace_id, "visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    return await backend.call("tickets:create", {**args, "subject": "Refund", "formData": {}, **fields})


async def test_a_visitor_files_a_ticket_and_follows_it(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    ticket_id = await _file(backend, visitor, description="Charged twice")
    own = {"visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    [listed] = await backend.call("tickets:listByVisitor", {"workspaceId": team.workspace_id, **own})
    assert (listed["_id"], listed["status"], listed["priority"], listed["attachments"]) == (
        ticket_id, "submitted", "normal", [],
    )  # fmt: skip
    agent = await backend.add_member(team, "agent")
    await backend.call("tickets:addComment", {"ticketId": ticket_id, "content": "Looking", **own})
    await backend.call("tickets:addComment", {"ticketId": ticket_id, "content": "Note to self", "isInternal": True},
                       as_=agent)  # fmt: skip
    await backend.call("tickets:update", {"id": ticket_id, "assigneeId": agent.user_id, "status": "in_progress"},
                       as_=agent)  # fmt: skip

    seen = await backend.call("tickets:get", {"id": ticket_id, **own})
    assert [(c["authorType"], c["content"]) for c in seen["comments"]] == [("visitor", "Looking")]
    assert seen["assignee"] == {"_id": agent.user_id, "name": "Test agent"}  # no email, no secrets
    assert (seen["status"], seen["visitor"]["_id"]) == ("in_progress", visitor.visitor_id)
    agent_view = await backend.call("tickets:get", {"id": ticket_id}, as_=agent)
    assert [c["isInternal"] for c in agent_view["comments"]] == [False, True]
    assert agent_view["assignee"]["email"] == agent.email
    comments = await backend.call("tickets:getComments", {"ticketId": ticket_id, **own, "includeInternal": True})
    assert len(comments) == 1

    await backend.call("tickets:resolve", {"id": ticket_id, "resolutionSummary": "Refunded"}, as_=agent)
    resolved = await backend.call("tickets:get", {"id": ticket_id, **own})
    assert (resolved["status"], resolved["resolutionSummary"], resolved["comments"][-1]["content"]) == (
        "resolved", "Refunded", "Ticket resolved: Refunded",
    )  # fmt: skip
    assert resolved["resolvedAt"] >= resolved["createdAt"]


async def test_visitors_reach_only_their_own_tickets(backend: Backend, team: Team):
    owner = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    ticket_id = await _file(backend, owner)
    assert await backend.call("tickets:get", {"id": ticket_id, "sessionToken": other.token}) is None
    assert await backend.call("tickets:get", {"id": ticket_id}) is None
    assert (
        await backend.call("tickets:listByVisitor", {"workspaceId": team.workspace_id, "sessionToken": other.token})
        == []
    )
    assert await backend.call("tickets:listByVisitor", {"workspaceId": team.workspace_id}) == []
    refused = await backend.refused(
        "tickets:addComment",
        {"ticketId": ticket_id, "sessionToken": other.token, "content": "hi"},
        code="NOT_AUTHORIZED",
    )
    assert refused["message"] == "Not authorized to comment on this ticket"
    await backend.refused(
        "tickets:create",
        {"workspaceId": team.workspace_id, "visitorId": owner.visitor_id, "sessionToken": other.token, "subject": "x"},
        code="NOT_AUTHORIZED",
    )
    await backend.refused(
        "tickets:create", {"workspaceId": team.workspace_id, "subject": "x"}, code="NOT_AUTHENTICATED"
    )
    outsider = (await backend.seed_team()).admin
    assert await backend.call("tickets:get", {"id": ticket_id}, as_=outsider) is None
    await backend.refused("tickets:update", {"id": ticket_id, "status": "resolved"}, as_=outsider,
                          code="NOT_WORKSPACE_MEMBER")  # fmt: skip
    await backend.refused("tickets:list", {"workspaceId": team.workspace_id}, as_=outsider, code="NOT_WORKSPACE_MEMBER")


async def test_agents_list_assign_and_convert(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    convert = {"conversationId": conversation, "priority": "high"}
    ticket_id = await backend.call("tickets:convertFromConversation", convert, as_=team.admin)
    ticket = await backend.get(ticket_id)
    assert (ticket["subject"], ticket["visitorId"], ticket["conversationId"], ticket["priority"]) == (
        "Ticket from conversation", visitor.visitor_id, conversation, "high",
    )  # fmt: skip
    again = await backend.refused("tickets:convertFromConversation", {"conversationId": conversation}, as_=team.admin,
                                  code="ALREADY_EXISTS")  # fmt: skip
    assert again["message"] == "A ticket already exists for this conversation"
    by_agent = await backend.call(
        "tickets:create",
        {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id, "subject": "Follow-up", "priority": "low"},
        as_=team.admin,
    )
    agent = await backend.add_member(team, "agent")
    outsider = (await backend.seed_team()).admin
    await backend.refused("tickets:update", {"id": by_agent, "assigneeId": outsider.user_id}, as_=team.admin,
                          code="INVALID_INPUT")  # fmt: skip
    await backend.call("tickets:update", {"id": by_agent, "assigneeId": agent.user_id}, as_=team.admin)

    ws = {"workspaceId": team.workspace_id}
    listed = await backend.call("tickets:list", ws, as_=agent)
    assert [row["_id"] for row in listed] == [by_agent, ticket_id]  # newest first
    assert listed[0]["visitor"]["_id"] == visitor.visitor_id and listed[0]["assignee"]["_id"] == agent.user_id
    mine = await backend.call("tickets:list", {**ws, "assigneeId": agent.user_id}, as_=agent)
    assert [row["_id"] for row in mine] == [by_agent]
    submitted = await backend.call("tickets:list", {**ws, "status": "submitted"}, as_=agent)
    assert len(submitted) == 2
    for_visitor = await backend.call("tickets:listByVisitor", {**ws, "visitorId": visitor.visitor_id}, as_=agent)
    assert {row["_id"] for row in for_visitor} == {by_agent, ticket_id}
    viewer = await backend.add_member(team, "viewer")
    await backend.refused(
        "tickets:update", {"id": by_agent, "status": "resolved"}, as_=viewer, code="PERMISSION_DENIED"
    )


async def test_ticket_input_is_checked(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    blank = await backend.refused(
        "tickets:create",
        {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "subject": "  "},
        code="INVALID_INPUT",
    )
    assert blank["message"] == "Subject is required"
    other = await backend.seed_team()
    form = {"workspaceId": other.workspace_id, "name": "x", "fields": []}
    foreign_form = await backend.call("ticketForms:create", form, as_=other.admin)
    await backend.refused(
        "tickets:create",
        {"workspaceId": team.workspace_id, "sessionToken": visitor.token, "subject": "x", "formId": foreign_form},
        code="INVALID_INPUT",
    )
    assert (await backend.dump())["tickets"] == []


async def test_tickets_and_comments_carry_attachments(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    files = backend.executor.file_storage

    async def staged(name: str) -> str:
        storage_id = await files.store(b"data", "text/plain")
        answer = await backend.call(
            "supportAttachments:finalizeUpload",
            {
                "workspaceId": team.workspace_id,
                "sessionToken": visitor.token,
                "storageId": storage_id,
                "fileName": name,
            },
        )
        return answer["attachmentId"]

    ticket_id = await _file(backend, visitor, attachmentIds=[await staged("log.txt")])
    await backend.call("tickets:addComment", {"ticketId": ticket_id, "sessionToken": visitor.token, "content": "more",
                                              "attachmentIds": [await staged("more.csv")]})  # fmt: skip
    seen = await backend.call("tickets:get", {"id": ticket_id, "sessionToken": visitor.token})
    assert [a["fileName"] for a in seen["attachments"]] == ["log.txt"]
    assert [a["mimeType"] for a in seen["comments"][0]["attachments"]] == ["text/csv"]


async def test_the_dashboard_views_list_and_open_tickets_with_a_status(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    ticket = await backend.call("tickets:convertFromConversation", {"conversationId": conversation}, as_=team.admin)
    ws = {"workspaceId": team.workspace_id}
    listed = await backend.call("tickets:listForAdminView", ws, as_=team.admin)
    assert listed["status"] == "ok" and [row["_id"] for row in listed["tickets"]] == [ticket]
    opened = await backend.call("tickets:getForAdminView", {"id": ticket}, as_=team.admin)
    assert opened["status"] == "ok" and opened["ticket"]["conversation"]["_id"] == conversation
    outsider = (await backend.seed_team()).admin
    assert await backend.call("tickets:listForAdminView", ws, as_=outsider) == {"status": "forbidden", "tickets": []}
    assert await backend.call("tickets:getForAdminView", {"id": ticket}) == {
        "status": "unauthenticated",
        "ticket": None,
    }
