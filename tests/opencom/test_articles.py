"""Help-center articles: publishing states, the access policy, slugs, full-text search and feedback."""

from typing import Any

from opencom_backend import Backend, Team


async def _article(backend: Backend, team: Team, title: str, content: str = "Body", **fields: Any) -> str:
    return await backend.call(
        "articles:create",
        {"workspaceId": team.workspace_id, "title": title, "content": content, **fields},
        as_=team.admin,
    )


async def _published(backend: Backend, team: Team, title: str, content: str = "Body", **fields: Any) -> str:
    article_id = await _article(backend, team, title, content, **fields)
    await backend.call("articles:publish", {"id": article_id}, as_=team.admin)
    return article_id


def _jobs(dump: dict, path: str) -> list[dict]:
    """Scheduled jobs of function ``module:name`` (the scheduler stores ``module.js:name``)."""
    module, name = path.split(":")
    return [job for job in dump["_scheduled_functions"] if job["name"] == f"{module}.js:{name}"]


async def test_publishing_states_and_embedding_jobs(backend: Backend, team: Team):
    article_id = await _article(backend, team, "Reset your password", "Open settings.")
    draft = await backend.get(article_id)
    assert (draft["status"], draft["slug"], draft["visibility"], draft["order"]) == (
        "draft",
        "reset-your-password",
        "public",
        1,
    )
    assert draft["authorId"] == team.admin.user_id and "publishedAt" not in draft
    assert not _jobs(await backend.dump(), "embeddings:generateInternal")

    assert await backend.call("articles:publish", {"id": article_id}, as_=team.admin) == article_id
    published = await backend.get(article_id)
    assert published["status"] == "published" and published["publishedAt"] > 0
    [job] = _jobs(await backend.dump(), "embeddings:generateInternal")
    assert job["args"][0] == {
        "workspaceId": team.workspace_id,
        "contentType": "article",
        "contentId": article_id,
        "title": "Reset your password",
        "content": "Open settings.",
    }

    await backend.call("articles:update", {"id": article_id, "content": "Open account settings."}, as_=team.admin)
    assert len(_jobs(await backend.dump(), "embeddings:generateInternal")) == 2
    await backend.call("articles:update", {"id": article_id, "tags": ["account"]}, as_=team.admin)
    assert len(_jobs(await backend.dump(), "embeddings:generateInternal")) == 2  # tags do not change the text

    await backend.call("articles:unpublish", {"id": article_id}, as_=team.admin)
    unpublished = await backend.get(article_id)
    assert unpublished["status"] == "draft" and "publishedAt" not in unpublished
    await backend.call("articles:archive", {"id": article_id}, as_=team.admin)
    assert (await backend.get(article_id))["status"] == "archived"
    assert await backend.call("articles:remove", {"id": article_id}, as_=team.admin) == {"success": True}
    assert await backend.get(article_id) is None
    removals = _jobs(await backend.dump(), "embeddings:remove")
    assert [job["args"][0] for job in removals] == [{"contentType": "article", "contentId": article_id}] * 3


async def test_slugs_are_unique_per_workspace_and_follow_the_title(backend: Backend, team: Team):
    first = await _article(backend, team, "Billing & Invoices!")
    second = await _article(backend, team, "Billing & invoices")
    odd = await _article(backend, team, "???")
    assert [(await backend.get(i))["slug"] for i in (first, second, odd)] == [
        "billing-invoices",
        "billing-invoices-1",
        "article",
    ]
    await backend.call("articles:update", {"id": second, "title": "Refunds"}, as_=team.admin)
    assert (await backend.get(second))["slug"] == "refunds"
    await backend.call("articles:update", {"id": first, "title": "Billing & Invoices!"}, as_=team.admin)
    assert (await backend.get(first))["slug"] == "billing-invoices"
    other = await backend.seed_team()
    elsewhere = await backend.call(
        "articles:create", {"workspaceId": other.workspace_id, "title": "Refunds", "content": "x"}, as_=other.admin
    )
    assert (await backend.get(elsewhere))["slug"] == "refunds"


async def test_public_reads_follow_the_access_policy(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    live = await _published(backend, team, "Shipping times", "Five days to Europe.")
    draft = await _article(backend, team, "Secret roadmap")
    internal = await _published(backend, team, "Escalation runbook", visibility="internal")
    targeted = await _published(backend, team, "VIP perks")
    rules = {"type": "condition", "property": {"source": "system", "key": "email"}, "operator": "is_set"}
    await backend.call("articles:update", {"id": targeted, "audienceRules": rules}, as_=team.admin)

    assert [a["_id"] for a in await backend.call("articles:list", ws)] == [live]
    assert {a["_id"] for a in await backend.call("articles:list", ws, as_=team.admin)} == {
        live,
        draft,
        internal,
        targeted,
    }
    assert (await backend.call("articles:get", {"id": live}))["renderedContent"] == "Five days to Europe."
    assert (await backend.call("articles:get", {**ws, "slug": "shipping-times"}))["_id"] == live
    for hidden in (draft, internal, targeted):
        assert await backend.call("articles:get", {"id": hidden}) is None
        assert (await backend.call("articles:get", {"id": hidden}, as_=team.admin))["_id"] == hidden
    assert await backend.call("articles:get", {"id": internal, "visibility": "public"}, as_=team.admin) is None
    assert [a["_id"] for a in await backend.call("articles:search", {**ws, "query": "roadmap"}, as_=team.admin)] == [
        draft
    ]
    assert await backend.call("articles:search", {**ws, "query": "roadmap"}) == []

    await backend.refused(
        "workspaces:updateHelpCenterAccessPolicy", {**ws, "policy": "restricted"}, code="NOT_AUTHENTICATED"
    )
    await backend.call("workspaces:updateHelpCenterAccessPolicy", {**ws, "policy": "restricted"}, as_=team.admin)
    assert (await backend.get(team.workspace_id))["helpCenterAccessPolicy"] == "restricted"
    assert await backend.call("articles:list", ws) == []
    assert await backend.call("articles:get", {"id": live}) is None
    assert await backend.call("articles:search", {**ws, "query": "shipping"}) == []
    outsider = (await backend.seed_team()).admin
    assert await backend.call("articles:list", ws, as_=outsider) == []
    assert len(await backend.call("articles:list", ws, as_=team.admin)) == 4
    visitor = await backend.boot(team.workspace_id)
    widget = {**ws, "sessionToken": visitor.token}
    assert [a["_id"] for a in await backend.call("articles:listForVisitor", widget)] == [live]


async def test_authoring_needs_the_article_permissions(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    article_id = await _article(backend, team, "Draft")
    agent = await backend.add_member(team, "agent")
    viewer = await backend.add_member(team, "viewer")
    outsider = (await backend.seed_team()).admin
    await backend.refused("articles:create", {**ws, "title": "t", "content": "c"}, code="NOT_AUTHENTICATED")
    await backend.refused("articles:create", {**ws, "title": "t", "content": "c"}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("articles:publish", {"id": article_id}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("articles:remove", {"id": article_id}, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("articles:update", {"id": article_id, "title": "x"}, as_=viewer, code="PERMISSION_DENIED")
    spoof = {**ws, "title": "t", "content": "c", "authorId": agent.user_id}
    await backend.refused("articles:create", spoof, as_=team.admin, code="NOT_AUTHORIZED")
    bad_rules = {"id": article_id, "audienceRules": {"type": "nonsense"}}
    await backend.refused("articles:update", bad_rules, as_=team.admin, code="INVALID_INPUT")
    assert (await backend.get(article_id))["title"] == "Draft"
    assert [a["_id"] for a in await backend.call("articles:list", ws, as_=viewer)] == [article_id]


async def test_articles_must_stay_in_their_workspace_collections(backend: Backend, team: Team):
    other = await backend.seed_team()
    foreign = await backend.call(
        "collections:create", {"workspaceId": other.workspace_id, "name": "Theirs"}, as_=other.admin
    )
    ws = {"workspaceId": team.workspace_id}
    await backend.refused(
        "articles:create",
        {**ws, "title": "t", "content": "c", "collectionId": foreign},
        as_=team.admin,
        code="NOT_FOUND",
    )
    mine = await backend.call("collections:create", {**ws, "name": "Mine"}, as_=team.admin)
    first = await _article(backend, team, "One", collectionId=mine)
    second = await _article(backend, team, "Two", collectionId=mine)
    root = await _article(backend, team, "Root")
    second_root = await _article(backend, team, "Root 2")
    assert [(await backend.get(i))["order"] for i in (first, second, root, second_root)] == [1, 2, 1, 2]
    await backend.refused("articles:update", {"id": root, "collectionId": foreign}, as_=team.admin, code="NOT_FOUND")
    await backend.call("articles:update", {"id": first, "collectionId": None}, as_=team.admin)
    assert "collectionId" not in await backend.get(first)


async def test_search_ranks_title_hits_first_and_matches_words(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    body_hit = await _published(backend, team, "Account basics", "You can change your password from the profile page.")
    title_hit = await _published(backend, team, "Password reset", "Use the link we email you.")
    await _published(backend, team, "Shipping", "Parcels leave daily.")
    await _article(backend, team, "Password policy draft", "Never published.")
    found = await backend.call("articles:search", {**ws, "query": "password"})
    assert [a["_id"] for a in found] == [title_hit, body_hit]
    assert [a["_id"] for a in await backend.call("articles:search", {**ws, "query": "passw"})] == [title_hit, body_hit]
    assert await backend.call("articles:search", {**ws, "query": "   "}) == []
    admin_hits = await backend.call("articles:search", {**ws, "query": "password"}, as_=team.admin)
    assert len(admin_hits) == 3
    published_only = {**ws, "query": "password", "publishedOnly": True}
    assert len(await backend.call("articles:search", published_only, as_=team.admin)) == 2


async def test_visitor_surfaces_need_a_session_of_the_workspace(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    live = await _published(backend, team, "Returns", "Send it back within 30 days.")
    later = await _published(backend, team, "Exchanges", "Swap sizes for free.")
    draft = await _article(backend, team, "Unreleased returns")
    visitor = await backend.boot(team.workspace_id)
    widget = {**ws, "visitorId": visitor.visitor_id, "sessionToken": visitor.token}

    listed = await backend.call("articles:listForVisitor", widget)
    assert [a["_id"] for a in listed] == [live, later] and listed[0][
        "renderedContent"
    ] == "Send it back within 30 days."
    assert [a["_id"] for a in await backend.call("articles:searchForVisitor", {**widget, "query": "returns"})] == [live]
    assert (await backend.call("articles:getForVisitor", {**widget, "id": live}))["title"] == "Returns"
    assert await backend.call("articles:getForVisitor", {**widget, "id": draft}) is None

    await backend.refused("articles:listForVisitor", ws, code="NOT_AUTHENTICATED")
    foreign = await backend.boot((await backend.seed_team()).workspace_id)
    await backend.refused("articles:listForVisitor", {**ws, "sessionToken": foreign.token}, code="NOT_AUTHORIZED")
    other = await backend.boot(team.workspace_id)
    spoof = {**ws, "visitorId": visitor.visitor_id, "sessionToken": other.token}
    await backend.refused("articles:getForVisitor", {**spoof, "id": live}, code="NOT_AUTHORIZED")
    # An agent previews a named visitor's view; without one it sees nothing.
    assert (
        len(await backend.call("articles:listForVisitor", {**ws, "visitorId": visitor.visitor_id}, as_=team.admin)) == 2
    )
    assert await backend.call("articles:listForVisitor", ws, as_=team.admin) == []


async def test_feedback_on_readable_articles_only(backend: Backend, team: Team):
    live = await _published(backend, team, "Returns")
    draft = await _article(backend, team, "Draft")
    visitor = await backend.boot(team.workspace_id)
    assert await backend.call("articles:submitFeedback", {"articleId": live, "helpful": True})
    await backend.call(
        "articles:submitFeedback",
        {"articleId": live, "helpful": False, "visitorId": visitor.visitor_id, "sessionToken": visitor.token},
    )
    rows = (await backend.dump())["articleFeedback"]
    assert sorted((r["helpful"], r.get("visitorId")) for r in rows) == [(False, visitor.visitor_id), (True, None)]
    stats = await backend.call("articles:getFeedbackStats", {"articleId": live})
    assert stats == {"helpful": 1, "notHelpful": 1, "total": 2}

    await backend.refused("articles:submitFeedback", {"articleId": draft, "helpful": True}, code="NOT_AUTHORIZED")
    await backend.refused(
        "articles:submitFeedback",
        {"articleId": live, "helpful": True, "visitorId": visitor.visitor_id},
        code="NOT_AUTHENTICATED",
    )
    other = await backend.boot(team.workspace_id)
    forged = {"articleId": live, "helpful": True, "visitorId": visitor.visitor_id, "sessionToken": other.token}
    await backend.refused("articles:submitFeedback", forged, code="NOT_AUTHORIZED")
    assert len((await backend.dump())["articleFeedback"]) == 2
    assert await backend.call("articles:getFeedbackStats", {"articleId": draft}) == {
        "helpful": 0,
        "notHelpful": 0,
        "total": 0,
    }
