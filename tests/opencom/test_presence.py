"""Presence: the widget's heartbeat marks its visitor online for two minutes; agents ask isOnline."""

from opencom_backend import Backend, Team


async def test_heartbeats_make_a_visitor_online_for_its_agents(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    await backend.patch(visitor.visitor_id, {"lastSeenAt": 1.0})
    ask = {"visitorId": visitor.visitor_id}
    assert await backend.call("visitors:isOnline", ask, as_=team.admin) is False
    beat = {"visitorId": visitor.visitor_id, "sessionToken": visitor.token, "origin": "https://shop.example.com"}
    assert await backend.call("visitors:heartbeat", beat) is None
    assert await backend.call("visitors:isOnline", ask, as_=team.admin) is True
    assert await backend.call("visitors:isOnline", ask) is False  # strangers learn nothing
    assert await backend.call("visitors:isOnline", ask, as_=(await backend.seed_team()).admin) is False


async def test_a_heartbeat_without_its_own_session_changes_nothing(backend: Backend, team: Team):
    visitor = await backend.boot(team.workspace_id)
    other = await backend.boot(team.workspace_id)
    await backend.patch(visitor.visitor_id, {"lastSeenAt": 1.0})
    await backend.call("visitors:heartbeat", {"visitorId": visitor.visitor_id})
    await backend.call("visitors:heartbeat", {"visitorId": visitor.visitor_id, "sessionToken": other.token})
    assert (await backend.get(visitor.visitor_id))["lastSeenAt"] == 1.0
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://a.com"]},
        as_=team.admin,
    )
    await backend.refused("visitors:heartbeat", {"sessionToken": visitor.token, "origin": "https://evil.com"},
                          code="NOT_AUTHORIZED")  # fmt: skip
    assert (await backend.get(visitor.visitor_id))["lastSeenAt"] == 1.0
