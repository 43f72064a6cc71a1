"""Email campaigns: templates, drafts, recipients resolved at send time, delivery to the outbox, tracking."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from opencom_backend import Backend, Team

from runtime.functions.http_actions import Request, run_http_action

SITE = "http://127.0.0.1:1"


async def visitors(backend: Backend, team: Team, count: int, **fields: Any) -> list[str]:
    ids = []
    for number in range(count):
        visitor = await backend.boot(team.workspace_id)
        await backend.patch(visitor.visitor_id, {"email": f"v{number}@example.com", "name": f"V{number}", **fields})
        ids.append(visitor.visitor_id)
    return ids


async def drain(backend: Backend, campaign_id: str) -> dict[str, Any]:
    """Run the campaign's steps (the job runner is off in these tests) until it stops sending."""
    for _ in range(1000):
        campaign = await backend.get(campaign_id)
        if campaign["status"] != "sending":
            return campaign
        await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": campaign["sendRun"]})
    raise AssertionError("the send never finished")


async def campaign_outbox(backend: Backend, campaign_id: str) -> list[dict[str, Any]]:
    return [row for row in (await backend.dump())["outbox"] if row.get("campaignId") == campaign_id]


async def http_get(backend: Backend, url: str, method: str = "GET") -> Any:
    parts = urlsplit(url)
    return await run_http_action(backend.executor, Request(method, url, {}, b""), parts.path)


async def test_templates_crud_duplicate_and_variables(backend: Backend, team: Team):
    admin, workspace = team.admin, team.workspace_id
    html = "<h1>Hi {{ user.name }}</h1>{{content}}<p>{{user.name}} {{user.plan}}</p>"
    template_id = await backend.call("emailTemplates:create", {"workspaceId": workspace, "name": "Base", "html": html, "category": "news"}, as_=admin)
    assert await backend.call("emailTemplates:extractVariables", {"html": html}, as_=admin) == ["user.name", "content", "user.plan"]
    copy_id = await backend.call("emailTemplates:duplicate", {"id": template_id}, as_=admin)
    assert (await backend.call("emailTemplates:get", {"id": copy_id}, as_=admin))["name"] == "Base (Copy)"
    await backend.call("emailTemplates:update", {"id": copy_id, "category": "other"}, as_=admin)
    listed = await backend.call("emailTemplates:list", {"workspaceId": workspace, "category": "news"}, as_=admin)
    assert [t["_id"] for t in listed] == [template_id]
    await backend.call("emailTemplates:remove", {"id": copy_id}, as_=admin)
    assert await backend.call("emailTemplates:get", {"id": copy_id}, as_=admin) is None


async def test_a_campaign_reaches_exactly_its_segment_once_with_tracked_links(backend: Backend, team: Team):
    admin, workspace = team.admin, team.workspace_id
    pro = await visitors(backend, team, 3, customAttributes={"plan": "pro"})
    await visitors(backend, team, 2, customAttributes={"plan": "free"})
    anonymous = await backend.boot(workspace)  # no email: never a recipient
    rule = {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}
    segment = await backend.call("segments:create", {"workspaceId": workspace, "name": "Pro", "audienceRules": rule}, as_=admin)
    template = await backend.call("emailTemplates:create", {"workspaceId": workspace, "name": "T", "html": "<div>{{content}}</div>"}, as_=admin)
    content = '<p>Hello {{user.name}}, your plan is {{user.plan}}.</p><a href="https://example.com/offer?a=1&amp;b=2">Offer</a>'
    campaign_id = await backend.call(
        "emailCampaigns:create",
        {"workspaceId": workspace, "name": "Launch", "subject": "Hi {{user.name}}", "content": content,
         "templateId": template, "targeting": {"segmentId": segment}},
        as_=admin,
    )  # fmt: skip

    preview = await backend.call("emailCampaigns:previewRecipients", {"campaignId": campaign_id}, as_=admin)
    assert preview["recipientCount"] == 3 and {s["visitorId"] for s in preview["sample"]} == set(pro)
    sent = await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=admin)
    assert sent == {"status": "sending", "recipientCount": 3.0}
    await backend.refused("emailCampaigns:send", {"id": campaign_id}, as_=admin, code="INVALID_INPUT")
    await backend.refused("emailCampaigns:update", {"id": campaign_id, "name": "x"}, as_=admin, code="INVALID_INPUT")
    campaign = await drain(backend, campaign_id)
    assert campaign["status"] == "sent" and campaign["recipientCount"] == 3

    recipients = [r for r in (await backend.dump())["emailCampaignRecipients"] if r["campaignId"] == campaign_id]
    assert sorted(r["visitorId"] for r in recipients) == sorted(pro) and anonymous.visitor_id not in pro
    assert all(r["status"] == "sent" and r["trackingToken"].startswith("ect_") for r in recipients)
    emails = await campaign_outbox(backend, campaign_id)
    assert sorted(e["recipientId"] for e in emails) == sorted(r["_id"] for r in recipients)
    first = next(e for e in emails if e["to"] == ["v0@example.com"])
    assert first["subject"] == "Hi V0" and "your plan is pro" in first["html"] and first["html"].startswith("<div>")
    assert "https://example.com/offer" not in first["html"].split("/email/click")[0]
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=admin)
    assert (stats["total"], stats["sent"], stats["pending"], stats["opened"]) == (3, 3, 0, 0)


async def sent_campaign(backend: Backend, team: Team, count: int = 2) -> tuple[str, list[dict[str, Any]]]:
    await visitors(backend, team, count)
    content = '<a href="https://example.com/a">A</a> <a href="https://example.com/{{user.name}}">Me</a>'
    campaign_id = await backend.call(
        "emailCampaigns:create", {"workspaceId": team.workspace_id, "name": "C", "subject": "S", "content": content}, as_=team.admin
    )
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=team.admin)
    await drain(backend, campaign_id)
    recipients = [r for r in (await backend.dump())["emailCampaignRecipients"] if r["campaignId"] == campaign_id]
    return campaign_id, sorted(recipients, key=lambda r: r["email"])


async def test_opens_and_clicks_count_once_and_only_the_campaigns_links_redirect(backend: Backend, team: Team):
    campaign_id, [ann, bob] = await sent_campaign(backend, team)
    for _ in range(3):
        await backend.call("emailCampaigns:trackOpen", {"token": ann["trackingToken"]})
        await backend.patch(ann["_id"], {"lastTrackingEventAt": 0.0})  # past the abuse guard's interval
    await backend.call("emailCampaigns:trackOpen", {"recipientId": bob["_id"], "trackingToken": ann["trackingToken"]})  # foreign
    await backend.call("emailCampaigns:trackOpen", {"token": "ect_" + "0" * 48})  # unknown
    await backend.refused("emailCampaigns:trackOpen", {"token": "nope"}, code="INVALID_INPUT")
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert (stats["opened"], stats["clicked"]) == (1, 0)

    # The pixel: a GIF for a known token, 404 for any other.
    pixel = await http_get(backend, f"{SITE}/email/open?t={bob['trackingToken']}")
    assert pixel.status == 200 and pixel.body.startswith(b"GIF89a")
    assert (await http_get(backend, f"{SITE}/email/open?t=ect_{'1' * 48}")).status == 404

    own = f"{SITE}/email/click?t={ann['trackingToken']}&u=https%3A%2F%2Fexample.com%2FV0"
    redirect = await http_get(backend, own)
    assert redirect.status == 302 and {k.lower(): val for k, val in redirect.headers.items()}["location"] == "https://example.com/V0"
    for url in ("https://evil.example/", "https://example.com/V1", "javascript:alert(1)"):
        refused = await http_get(backend, f"{SITE}/email/click?t={ann['trackingToken']}&u={url}")
        assert refused.status == 404 and "location" not in {k.lower() for k in refused.headers}
    await backend.refused("emailCampaigns:trackClick", {"token": ann["trackingToken"], "url": "https://evil.example/"}, code="INVALID_INPUT")
    await backend.patch(ann["_id"], {"lastTrackingEventAt": 0.0})
    await http_get(backend, own)
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert (stats["opened"], stats["clicked"]) == (2, 1)


async def test_an_unsubscribed_address_is_left_out_of_later_campaigns(backend: Backend, team: Team):
    campaign_id, [ann, bob] = await sent_campaign(backend, team)
    assert (await http_get(backend, f"{SITE}/email/unsubscribe?t={ann['trackingToken']}")).status == 200
    assert (await backend.get(ann["_id"]))["status"] == "sent"  # GET only asks
    assert (await http_get(backend, f"{SITE}/email/unsubscribe?t={ann['trackingToken']}", "POST")).status == 200
    stats = await backend.call("emailCampaigns:getStats", {"id": campaign_id}, as_=team.admin)
    assert stats["unsubscribed"] == 1
    second = await backend.call(
        "emailCampaigns:create", {"workspaceId": team.workspace_id, "name": "2", "subject": "S", "content": "x"}, as_=team.admin
    )
    preview = await backend.call("emailCampaigns:previewRecipients", {"campaignId": second}, as_=team.admin)
    assert [s["email"] for s in preview["sample"]] == [bob["email"]]
    await backend.call("emailCampaigns:send", {"id": second}, as_=team.admin)
    await drain(backend, second)
    assert [e["to"] for e in await campaign_outbox(backend, second)] == [[bob["email"]]]


async def test_pause_stops_a_send_and_resume_finishes_it_without_duplicates(backend: Backend, team: Team):
    await visitors(backend, team, 150)
    campaign_id = await backend.call(
        "emailCampaigns:create", {"workspaceId": team.workspace_id, "name": "Big", "subject": "S", "content": "x"}, as_=team.admin
    )
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=team.admin)
    first_run = (await backend.get(campaign_id))["sendRun"]
    await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": first_run})
    one_step = len(await campaign_outbox(backend, campaign_id))
    assert 1 <= one_step <= 25  # at most a page, fewer once the step's time budget is spent
    await backend.call("emailCampaigns:pause", {"id": campaign_id}, as_=team.admin)
    await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": first_run})
    assert len(await campaign_outbox(backend, campaign_id)) == one_step  # paused: the step does nothing
    await backend.call("emailCampaigns:resume", {"id": campaign_id}, as_=team.admin)
    await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": first_run})  # stale run: nothing
    await drain(backend, campaign_id)
    emails = await campaign_outbox(backend, campaign_id)
    assert len(emails) == 150 and len({e["to"][0] for e in emails}) == 150


async def test_a_step_that_spends_its_time_budget_leaves_the_rest_of_its_page_to_the_next(
    backend: Backend, team: Team, monkeypatch: Any
):
    await visitors(backend, team, 4)
    monkeypatch.setattr(backend.lib("step_budget").StepBudget, "spent", lambda self: True)  # every step: one visitor
    campaign_id = await backend.call(
        "emailCampaigns:create", {"workspaceId": team.workspace_id, "name": "Slow", "subject": "S", "content": "x"}, as_=team.admin
    )
    await backend.call("emailCampaigns:send", {"id": campaign_id}, as_=team.admin)
    run = (await backend.get(campaign_id))["sendRun"]
    await backend.internal("emailCampaigns:sendStep", {"campaignId": campaign_id, "run": run})
    assert [e["to"] for e in await campaign_outbox(backend, campaign_id)] == [["v0@example.com"]]
    assert (await drain(backend, campaign_id))["status"] == "sent"
    emails = sorted(e["to"][0] for e in await campaign_outbox(backend, campaign_id))
    assert emails == [f"v{number}@example.com" for number in range(4)]
