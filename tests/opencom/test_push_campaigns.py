"""Push campaigns and device tokens: resolution at send time, the no-transport record, Expo, pruning, pause."""

from __future__ import annotations

from typing import Any

from opencom_backend import Backend, Team, Visitor


async def device(backend: Backend, visitor: Visitor, token: str, platform: str = "ios") -> dict[str, Any]:
    args = {"visitorId": visitor.visitor_id, "token": token, "platform": platform, "sessionToken": visitor.token}
    return await backend.call("visitorPushTokens:register", args)


async def campaign(backend: Backend, team: Team, **fields: Any) -> str:
    args = {"workspaceId": team.workspace_id, "name": "P", "title": "Sale", "body": "50% off", **fields}
    return await backend.call("pushCampaigns:create", args, as_=team.admin)


async def step(backend: Backend, campaign_id: str) -> dict[str, Any]:
    """One link of the chain (the job runner is off in these tests): a resolving step or a delivery batch."""
    doc = await backend.get(campaign_id)
    args = {"campaignId": campaign_id, "run": doc["sendRun"]}
    target = "pushCampaigns:deliverBatch" if doc.get("sendPhase") == "delivering" else "pushCampaigns:sendStep"
    await backend.internal(target, args)
    return await backend.get(campaign_id)


async def drain(backend: Backend, campaign_id: str) -> dict[str, Any]:
    for _ in range(100):
        doc = await step(backend, campaign_id)
        if doc["status"] != "sending":
            return doc
    raise AssertionError("the send never finished")


async def test_visitors_manage_their_own_tokens_and_the_dashboard_counts_them(backend: Backend, team: Team):
    ann, bob = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    assert (await device(backend, ann, "ExponentPushToken[a]"))["status"] == "created"
    assert (await device(backend, ann, "ExponentPushToken[a]", "android"))["status"] == "updated"
    assert (await device(backend, bob, "ExponentPushToken[a]"))["status"] == "reassigned"  # a shared device
    await device(backend, ann, "ExponentPushToken[b]")
    stolen = {"visitorId": ann.visitor_id, "token": "x", "platform": "ios", "sessionToken": bob.token}
    await backend.refused("visitorPushTokens:register", stolen)
    await backend.refused("visitorPushTokens:register", {**stolen, "sessionToken": None} | {"sessionToken": "wst_" + "0" * 64})
    await backend.patch(ann.visitor_id, {"name": "Ann", "email": "ann@example.com"})

    ws = {"workspaceId": team.workspace_id}
    stats = await backend.call("visitorPushTokens:getStats", ws, as_=team.admin)
    assert stats == {"total": 2, "ios": 2, "android": 0, "uniqueVisitors": 2}
    listed = await backend.call("visitorPushTokens:listWithVisitorInfo", ws, as_=team.admin)
    mine = next(t for t in listed if t["token"] == "ExponentPushToken[b]")
    assert (mine["visitorName"], mine["visitorEmail"]) == ("Ann", "ann@example.com")
    viewer = await backend.add_member(team, "viewer")
    assert await backend.call("visitorPushTokens:getStats", ws, as_=viewer) == {"total": 0, "ios": 0, "android": 0, "uniqueVisitors": 0}
    off = {"token": "ExponentPushToken[b]", "enabled": False, "sessionToken": ann.token}
    assert (await backend.call("visitorPushTokens:setNotificationsEnabled", off))["status"] == "updated"
    gone = await backend.call("visitorPushTokens:unregister", {"token": "ExponentPushToken[b]", "sessionToken": ann.token})
    assert gone["status"] == "removed"


async def test_agents_register_only_their_own_devices(backend: Backend, team: Team):
    agent = await backend.add_member(team, "agent")
    token_id = await backend.call("pushTokens:register", {"token": "t1", "userId": agent.user_id, "platform": "ios"}, as_=agent)
    await backend.refused("pushTokens:register", {"token": "t2", "userId": team.admin.user_id, "platform": "ios"}, as_=agent)
    assert [t["_id"] for t in await backend.call("pushTokens:getByUser", {"userId": agent.user_id}, as_=agent)] == [token_id]
    await backend.refused("pushTokens:setNotificationsEnabled", {"token": "t1", "enabled": False}, as_=team.admin)
    assert (await backend.call("pushTokens:unregisterAllForCurrentUser", {}, as_=agent))["removed"] == 1


async def test_without_a_transport_every_payload_is_recorded_undelivered(backend: Backend, team: Team):
    ann, bob = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    await device(backend, ann, "ExponentPushToken[ann]")
    await device(backend, bob, "ExponentPushToken[bob]")
    await backend.boot(team.workspace_id)  # no device: no recipient
    await backend.patch(bob.visitor_id, {"customAttributes": {"plan": "pro"}})
    rule = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
    campaign_id = await campaign(backend, team, targeting=rule, deepLink="app://sale")
    assert (await backend.call("pushCampaigns:send", {"id": campaign_id}, as_=team.admin)) == {"status": "sending"}
    assert (await drain(backend, campaign_id))["status"] == "sent"
    [recipient] = (await backend.dump())["pushCampaignRecipients"]
    assert (recipient["visitorId"], recipient["status"], recipient["error"]) == (bob.visitor_id, "failed", "no transport configured")
    [record] = (await backend.dump())["notificationDeliveries"]
    assert (record["status"], record["reason"], record["channel"]) == ("suppressed", "no transport configured", "push")
    assert record["metadata"] == {"title": "Sale", "body": "50% off", "data": {"campaignId": campaign_id, "deepLink": "app://sale"}}
    stats = await backend.call("pushCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert (stats["total"], stats["failed"], stats["sent"], stats["truncated"]) == (1, 1, 0, False)


async def test_expo_delivers_and_dead_tokens_are_pruned(backend: Backend, team: Team, expo: tuple[list[Any], str]):
    received, url = expo
    await backend.t.set_env("OPENCOM_PUSH_TRANSPORT", "expo")
    await backend.t.set_env("OPENCOM_EXPO_PUSH_URL", url)
    ann, bob = await backend.boot(team.workspace_id), await backend.boot(team.workspace_id)
    await device(backend, ann, "ExponentPushToken[ann]")
    dead = await device(backend, bob, "ExponentPushToken[dead]")
    campaign_id = await campaign(backend, team, data={"kind": "sale"})
    await backend.call("pushCampaigns:send", {"id": campaign_id}, as_=team.admin)
    assert (await step(backend, campaign_id))["sendPhase"] == "delivering"
    assert received == []  # resolving sends nothing
    done = await drain(backend, campaign_id)
    assert done["status"] == "sent" and done["stats"]["sent"] == 1 and done["stats"]["failed"] == 1
    [batch] = received
    assert sorted(m["to"] for m in batch) == ["ExponentPushToken[ann]", "ExponentPushToken[dead]"]
    assert batch[0]["data"] == {"kind": "sale", "campaignId": campaign_id} and batch[0]["title"] == "Sale"
    statuses = {r["visitorId"]: (r["status"], r.get("error")) for r in (await backend.dump())["pushCampaignRecipients"]}
    assert statuses[ann.visitor_id] == ("sent", None)
    assert statuses[bob.visitor_id] == ("failed", "DeviceNotRegistered: not registered")
    assert await backend.get(dead["tokenId"]) is None  # pruned on Expo's answer


async def test_pause_stops_a_send_in_progress(backend: Backend, team: Team, expo: tuple[list[Any], str]):
    received, url = expo
    await backend.t.set_env("OPENCOM_PUSH_TRANSPORT", "expo")
    await backend.t.set_env("OPENCOM_EXPO_PUSH_URL", url)
    for number in range(120):
        await device(backend, await backend.boot(team.workspace_id), f"ExponentPushToken[{number}]")
    campaign_id = await campaign(backend, team)
    await backend.call("pushCampaigns:send", {"id": campaign_id}, as_=team.admin)
    run = (await backend.get(campaign_id))["sendRun"]
    await step(backend, campaign_id)  # the first 100 visitors resolved
    await backend.call("pushCampaigns:pause", {"id": campaign_id}, as_=team.admin)
    for target in ("pushCampaigns:sendStep", "pushCampaigns:deliverBatch"):
        await backend.internal(target, {"campaignId": campaign_id, "run": run})
    paused = await backend.get(campaign_id)
    assert paused["status"] == "paused" and paused["recipientCount"] == 100 and received == []
    await backend.call("pushCampaigns:send", {"id": campaign_id}, as_=team.admin)  # resumes
    done = await drain(backend, campaign_id)
    assert done["stats"]["sent"] == 120 and sum(len(batch) for batch in received) == 120
