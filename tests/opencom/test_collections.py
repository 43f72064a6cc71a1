"""Help-center collections: slugs, nesting without cycles, delete-when-empty, counts and visitor hierarchy."""

from opencom_backend import Backend, Team


async def _collection(backend: Backend, team: Team, name: str, **fields) -> str:
    return await backend.call(
        "collections:create", {"workspaceId": team.workspace_id, "name": name, **fields}, as_=team.admin
    )


async def _published_in(backend: Backend, team: Team, collection_id: str, title: str) -> str:
    args = {"workspaceId": team.workspace_id, "title": title, "content": "Body", "collectionId": collection_id}
    article_id = await backend.call("articles:create", args, as_=team.admin)
    await backend.call("articles:publish", {"id": article_id}, as_=team.admin)
    return article_id


async def test_slugs_order_and_lookup(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    first = await _collection(backend, team, "Getting Started", description="Basics", icon="rocket")
    second = await _collection(backend, team, "Getting started")
    child = await _collection(backend, team, "Setup", parentId=first)
    docs = [await backend.get(i) for i in (first, second, child)]
    assert [(d["slug"], d["order"]) for d in docs] == [("getting-started", 1), ("getting-started-1", 2), ("setup", 1)]
    assert docs[2]["parentId"] == first
    assert (await backend.call("collections:get", {**ws, "slug": "getting-started-1"}, as_=team.admin))["_id"] == second
    await backend.call("collections:update", {"id": second, "name": "Billing"}, as_=team.admin)
    assert (await backend.get(second))["slug"] == "billing"
    await backend.call("collections:reorder", {"id": second, "newOrder": 0.5}, as_=team.admin)
    tree = await backend.call("collections:listHierarchy", ws, as_=team.admin)
    assert [c["_id"] for c in tree] == [second, first, child]
    roots = await backend.call("collections:list", ws, as_=team.admin)
    assert [c["_id"] for c in roots] == [second, first]
    assert [c["_id"] for c in await backend.call("collections:list", {**ws, "parentId": first}, as_=team.admin)] == [
        child
    ]


async def test_nesting_never_forms_a_cycle(backend: Backend, team: Team):
    top = await _collection(backend, team, "Top")
    middle = await _collection(backend, team, "Middle", parentId=top)
    bottom = await _collection(backend, team, "Bottom", parentId=middle)
    self_parent = await backend.refused(
        "collections:update", {"id": top, "parentId": top}, as_=team.admin, code="INVALID_INPUT"
    )
    assert self_parent["message"] == "Collection cannot be its own parent"
    loop = await backend.refused(
        "collections:update", {"id": top, "parentId": bottom}, as_=team.admin, code="INVALID_INPUT"
    )
    assert loop["message"] == "Collection cannot be moved into its own descendant"
    assert "parentId" not in await backend.get(top)
    await backend.call("collections:update", {"id": bottom, "parentId": top}, as_=team.admin)
    assert (await backend.get(bottom))["parentId"] == top
    await backend.call("collections:update", {"id": middle, "parentId": None}, as_=team.admin)
    assert "parentId" not in await backend.get(middle)
    other = await backend.seed_team()
    foreign = await backend.call(
        "collections:create", {"workspaceId": other.workspace_id, "name": "X"}, as_=other.admin
    )
    await backend.refused("collections:update", {"id": top, "parentId": foreign}, as_=team.admin, code="INVALID_INPUT")
    await backend.refused(
        "collections:create",
        {"workspaceId": team.workspace_id, "name": "Y", "parentId": foreign},
        as_=team.admin,
        code="INVALID_INPUT",
    )


async def test_only_empty_collections_can_be_deleted(backend: Backend, team: Team):
    parent = await _collection(backend, team, "Parent")
    child = await _collection(backend, team, "Child", parentId=parent)
    with_child = await backend.refused("collections:remove", {"id": parent}, as_=team.admin, code="INVALID_INPUT")
    assert with_child["message"] == "Cannot delete collection with child collections"
    draft = await backend.call(
        "articles:create",
        {"workspaceId": team.workspace_id, "title": "Draft", "content": "x", "collectionId": child},
        as_=team.admin,
    )
    with_article = await backend.refused("collections:remove", {"id": child}, as_=team.admin, code="INVALID_INPUT")
    assert with_article["message"] == "Cannot delete collection with articles"
    await backend.call("articles:remove", {"id": draft}, as_=team.admin)
    assert await backend.call("collections:remove", {"id": child}, as_=team.admin) == {"success": True}
    assert await backend.call("collections:remove", {"id": parent}, as_=team.admin) == {"success": True}
    assert (await backend.dump())["collections"] == []


async def test_authoring_permissions(backend: Backend, team: Team):
    collection = await _collection(backend, team, "Guides")
    agent = await backend.add_member(team, "agent")
    outsider = (await backend.seed_team()).admin
    ws = {"workspaceId": team.workspace_id}
    await backend.refused("collections:create", {**ws, "name": "x"}, code="NOT_AUTHENTICATED")
    await backend.refused("collections:create", {**ws, "name": "x"}, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("collections:remove", {"id": collection}, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    await backend.refused(
        "collections:reorder", {"id": collection, "newOrder": 3.0}, as_=agent, code="PERMISSION_DENIED"
    )
    assert (await backend.get(collection))["order"] == 1


async def test_public_and_visitor_views_show_collections_with_readable_articles(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    guides = await _collection(backend, team, "Guides")
    advanced = await _collection(backend, team, "Advanced", parentId=guides)
    empty = await _collection(backend, team, "Empty")
    drafts_only = await _collection(backend, team, "Drafts only")
    await backend.call(
        "articles:create", {**ws, "title": "WIP", "content": "x", "collectionId": drafts_only}, as_=team.admin
    )
    deep = await _published_in(backend, team, advanced, "Webhooks")

    public = await backend.call("collections:listHierarchy", ws)
    assert [(c["_id"], c["publishedArticleCount"]) for c in public] == [(advanced, 1)]
    admin_view = {c["_id"]: c for c in await backend.call("collections:listHierarchy", ws, as_=team.admin)}
    assert set(admin_view) == {guides, advanced, empty, drafts_only}
    assert (admin_view[drafts_only]["articleCount"], admin_view[drafts_only]["publishedArticleCount"]) == (1, 0)
    assert await backend.call("collections:listHierarchy", {**ws, "publicOnly": True}, as_=team.admin) == public

    visitor = await backend.boot(team.workspace_id)
    tree = await backend.call("collections:listHierarchyForVisitor", {**ws, "sessionToken": visitor.token})
    assert [(c["_id"], c["articleCount"]) for c in tree] == [(guides, 0), (advanced, 1)]
    await backend.refused("collections:listHierarchyForVisitor", ws, code="NOT_AUTHENTICATED")

    await backend.call("workspaces:updateHelpCenterAccessPolicy", {**ws, "policy": "restricted"}, as_=team.admin)
    assert await backend.call("collections:listHierarchy", ws) == []
    assert await backend.call("collections:get", {"id": guides}) is None
    assert len(await backend.call("collections:listHierarchyForVisitor", {**ws, "sessionToken": visitor.token})) == 2
    await backend.call("articles:unpublish", {"id": deep}, as_=team.admin)
    assert await backend.call("collections:listHierarchyForVisitor", {**ws, "sessionToken": visitor.token}) == []
