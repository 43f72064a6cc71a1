"""The agents' visitor directory: list, search, directory pages, detail and merge history."""

from opencom_backend import Backend, Team


async def _seen(backend: Backend, visitor_id: str, at: float) -> None:
    await backend.patch(visitor_id, {"lastSeenAt": at})


async def test_list_and_search_are_for_agents_who_may_read_users(backend: Backend, team: Team):
    ada = await backend.boot(team.workspace_id, name="Ada Lovelace", email="ada@example.com")
    await backend.boot(team.workspace_id, name="Grace Hopper")
    ws = {"workspaceId": team.workspace_id}
    listed = await backend.call("visitors:list", {**ws, "limit": 1.0}, as_=team.admin)
    assert len(listed) == 1 and listed[0]["name"] == "Grace Hopper"
    assert [v["_id"] for v in await backend.call("visitors:search", {**ws, "query": "lovelace"}, as_=team.admin)] == [
        ada.visitor_id
    ]
    assert [
        v["_id"] for v in await backend.call("visitors:search", {**ws, "query": "ADA@example.com"}, as_=team.admin)
    ] == [ada.visitor_id]
    assert await backend.call("visitors:search", {**ws, "query": "a"}, as_=team.admin) == []
    outsider = (await backend.seed_team()).admin
    assert await backend.call("visitors:list", ws, as_=outsider) == []
    assert await backend.call("visitors:search", {**ws, "query": "lovelace"}, as_=outsider) == []


async def test_directory_pages_by_last_seen_with_search_and_presence(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    visitors = [await backend.boot(team.workspace_id, name=f"Person {n}") for n in range(5)]
    now = (await backend.get(visitors[0].visitor_id))["lastSeenAt"]
    for n, visitor in enumerate(visitors):
        await _seen(backend, visitor.visitor_id, now - n * 3_600_000.0)  # Person 0 online, the rest hours ago
    page = await backend.call("visitors:listDirectory", {**ws, "limit": 2.0}, as_=team.admin)
    assert [row["name"] for row in page["visitors"]] == ["Person 0", "Person 1"]
    assert (page["status"], page["totalCount"], page["hasMore"], page["nextOffset"]) == ("ok", 5, True, 2)
    rest = await backend.call("visitors:listDirectory", {**ws, "limit": 2.0, "offset": 4.0}, as_=team.admin)
    assert [row["name"] for row in rest["visitors"]] == ["Person 4"] and rest["nextOffset"] is None
    online = await backend.call("visitors:listDirectory", {**ws, "presence": "online"}, as_=team.admin)
    assert [(row["name"], row["isOnline"]) for row in online["visitors"]] == [("Person 0", True)]
    found = await backend.call("visitors:listDirectory", {**ws, "search": "person 3"}, as_=team.admin)
    assert [row["name"] for row in found["visitors"]] == ["Person 3"]

    viewer = await backend.add_member(team, "agent", permissions=["conversations.read"])
    assert (await backend.call("visitors:listDirectory", ws, as_=viewer))["status"] == "forbidden"
    assert (await backend.call("visitors:listDirectory", ws))["status"] == "unauthenticated"


async def test_detail_shows_linked_conversations_only_with_conversation_access(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id, name="Ada")
    conversation = await backend.visitor_conversation(visitor)
    args = {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id}
    detail = await backend.call("visitors:getDirectoryDetail", args, as_=team.admin)
    assert detail["status"] == "ok" and detail["visitor"]["name"] == "Ada"
    assert [row["_id"] for row in detail["linkedConversations"]] == [conversation]
    assert detail["linkedConversations"][0]["lastMessagePreview"]
    assert detail["resourceAccess"] == {"conversations": True, "tickets": True}

    reader = await backend.add_member(team, "agent", permissions=["users.read"])
    limited = await backend.call("visitors:getDirectoryDetail", args, as_=reader)
    assert limited["linkedConversations"] == [] and limited["resourceAccess"]["conversations"] is False

    elsewhere = await backend.seed_team()
    foreign = {"workspaceId": elsewhere.workspace_id, "visitorId": visitor.visitor_id}
    assert (await backend.call("visitors:getDirectoryDetail", foreign, as_=elsewhere.admin))["status"] == "forbidden"
    assert (await backend.call("visitors:getDirectoryDetail", args, as_=elsewhere.admin))["status"] == "forbidden"


async def test_merge_history_lists_the_visitor_merges_newest_first(backend: Backend, team: Team):
    target = await backend.boot(team.workspace_id)
    others = [await backend.boot(team.workspace_id) for _ in range(3)]
    for n, source in enumerate(others):
        involved = target.visitor_id if n < 2 else others[0].visitor_id
        await backend.insert(
            "auditLogs",
            {"workspaceId": team.workspace_id, "actorType": "api", "action": "visitor.merged",
             "resourceType": "visitor", "resourceId": involved, "timestamp": 100.0 + n,
             "metadata": {"sourceVisitorId": source.visitor_id, "targetVisitorId": involved,
                          "reassignedConversations": 2.0}},
        )  # fmt: skip
    args = {"workspaceId": team.workspace_id, "visitorId": target.visitor_id}
    history = await backend.call("visitors:getMergeHistory", args, as_=team.admin)
    assert [e["sourceVisitorId"] for e in history["entries"]] == [others[1].visitor_id, others[0].visitor_id]
    assert history["entries"][0]["reassignedConversations"] == 2 and history["entries"][0]["reason"] == "email_match"
    outsider = (await backend.seed_team()).admin
    assert await backend.call("visitors:getMergeHistory", args, as_=outsider) == {"status": "forbidden", "entries": []}
