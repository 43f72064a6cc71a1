"""Common-issue buttons: the widget lists the enabled ones in order; settings admins manage them."""

from opencom_backend import Backend, Team


async def test_buttons_are_listed_in_order_with_their_article(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    article = await backend.insert(
        "articles",
        {"workspaceId": team.workspace_id, "title": "Refunds", "slug": "refunds", "content": "...",
         "status": "published", "order": 0.0, "createdAt": 1.0, "updatedAt": 1.0},
    )  # fmt: skip
    create = lambda **fields: backend.call("commonIssueButtons:create", {**ws, **fields}, as_=team.admin)
    first = await create(label="Refunds", action="article", articleId=article, enabled=True)
    second = await create(label="Talk to us", action="start_conversation", conversationStarter="Hi!", enabled=True)
    hidden = await create(label="Hidden", action="start_conversation", conversationStarter="x", enabled=False)

    listed = await backend.call("commonIssueButtons:list", ws)
    assert [(b["_id"], b["order"]) for b in listed] == [(first, 0), (second, 1)]
    assert listed[0]["article"] == {"_id": article, "title": "Refunds", "slug": "refunds"}
    assert listed[1]["article"] is None
    assert len(await backend.call("commonIssueButtons:listAll", ws, as_=team.admin)) == 3
    assert await backend.call("commonIssueButtons:listAll", ws) == []

    await backend.call("commonIssueButtons:reorder", {**ws, "buttonIds": [hidden, second, first]}, as_=team.admin)
    await backend.call("commonIssueButtons:update", {"id": hidden, "enabled": True}, as_=team.admin)
    assert [b["label"] for b in await backend.call("commonIssueButtons:list", ws)] == [
        "Hidden",
        "Talk to us",
        "Refunds",
    ]
    await backend.call("articles:unpublish", {"id": article}, as_=team.admin)
    [for_visitors] = [b for b in await backend.call("commonIssueButtons:list", ws) if b["_id"] == first]
    assert for_visitors["article"] is None  # a draft's title never reaches the widget
    [for_admins] = [
        b for b in await backend.call("commonIssueButtons:listAll", ws, as_=team.admin) if b["_id"] == first
    ]
    assert for_admins["article"]["title"] == "Refunds"
    await backend.call("commonIssueButtons:remove", {"id": hidden}, as_=team.admin)
    assert await backend.call("commonIssueButtons:get", {"id": hidden}, as_=team.admin) is None


async def test_button_rules(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    no_article = {**ws, "label": "x", "action": "article", "enabled": True}
    refused = await backend.refused("commonIssueButtons:create", no_article, as_=team.admin, code="INVALID_INPUT")
    assert refused["message"] == "Article ID is required for article action"
    no_starter = {**ws, "label": "x", "action": "start_conversation", "enabled": True}
    refused = await backend.refused("commonIssueButtons:create", no_starter, as_=team.admin, code="INVALID_INPUT")
    assert refused["message"] == "Conversation starter is required for start_conversation action"
    other = await backend.seed_team()
    theirs = await backend.call(
        "commonIssueButtons:create",
        {"workspaceId": other.workspace_id, "label": "x", "action": "start_conversation", "conversationStarter": "y",
         "enabled": True},
        as_=other.admin,
    )  # fmt: skip
    await backend.refused("commonIssueButtons:reorder", {**ws, "buttonIds": [theirs]}, as_=team.admin,
                          code="NOT_AUTHORIZED")  # fmt: skip
    agent = await backend.add_member(team, "agent")
    await backend.refused("commonIssueButtons:create", {**no_starter, "conversationStarter": "y"}, as_=agent,
                          code="PERMISSION_DENIED")  # fmt: skip
    assert (await backend.dump())["commonIssueButtons"] == [await backend.get(theirs)]
