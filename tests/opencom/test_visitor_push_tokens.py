"""The settings page's view of visitors' push tokens: list with visitor info and counts."""

from opencom_backend import Backend, Team


async def test_tokens_are_listed_and_counted_for_integration_managers(backend: Backend, team: Team):
    ada = await backend.boot(team.workspace_id, name="Ada", email="ada@example.com")
    grace = await backend.boot(team.workspace_id, name="Grace")
    for n, (visitor, platform) in enumerate(((ada, "ios"), (ada, "android"), (grace, "ios"))):
        await backend.insert("visitorPushTokens", {"visitorId": visitor.visitor_id, "workspaceId": team.workspace_id,
                                                   "token": f"t{n}", "platform": platform, "createdAt": float(n),
                                                   "updatedAt": float(n)})  # fmt: skip
    ws = {"workspaceId": team.workspace_id}
    listed = await backend.call("visitorPushTokens:listWithVisitorInfo", {**ws, "limit": 2.0}, as_=team.admin)
    assert [(row["token"], row["visitorName"]) for row in listed] == [("t2", "Grace"), ("t1", "Ada")]
    assert listed[1]["visitorEmail"] == "ada@example.com"
    stats = await backend.call("visitorPushTokens:getStats", ws, as_=team.admin)
    assert stats == {"total": 3, "ios": 2, "android": 1, "uniqueVisitors": 2}
    agent = await backend.add_member(team, "agent")
    assert await backend.call("visitorPushTokens:listWithVisitorInfo", ws, as_=agent) == []
    assert (await backend.call("visitorPushTokens:getStats", ws, as_=agent))["total"] == 0
