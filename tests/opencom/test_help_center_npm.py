"""The widget's help-center calls through the official npm ``convex`` client against the real server.

The workspace is authored beforehand on the same data directory (articles in a collection, one
draft, the suggestions toggle on, embeddings computed); then a visitor boots a session over the
wire and makes the widget's calls with the widget's argument shapes (apps/widget/src/Widget.tsx).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from opencom_backend import open_backend
from test_semantic_search import ARTICLES, run_embedding_jobs

from tests.driver_process import Driver, DriverError
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import REPO, start_server


async def _author(data_dir: Path) -> dict[str, Any]:
    backend = await open_backend(data_dir)
    try:
        team = await backend.seed_team()
        ws = {"workspaceId": team.workspace_id}
        guides = await backend.call("collections:create", {**ws, "name": "Guides"}, as_=team.admin)
        ids = {}
        for key, (title, content) in ARTICLES.items():
            ids[key] = await backend.call(
                "articles:create", {**ws, "title": title, "content": content, "collectionId": guides}, as_=team.admin
            )
            await backend.call("articles:publish", {"id": ids[key]}, as_=team.admin)
        ids["draft"] = await backend.call(
            "articles:create", {**ws, "title": "Refund draft", "content": "x"}, as_=team.admin
        )
        await backend.call("automationSettings:upsert", {**ws, "suggestArticlesEnabled": True}, as_=team.admin)
        await run_embedding_jobs(backend)
        return {"workspaceId": team.workspace_id, "collection": guides, **ids}
    finally:
        await backend.close()


@pytest_asyncio.fixture
async def widget(tmp_path: Path) -> AsyncIterator[tuple[Driver, dict[str, Any]]]:
    node = node_with_convex()
    authored = await _author(tmp_path / "data")
    server = start_server(REPO, tmp_path / "data")
    driver = await Driver.start([node, "driver.mjs", server.url], cwd=str(NPM_DIR))
    try:
        yield driver, authored
    finally:
        await driver.close()
        server.stop()


@pytest.mark.timeout(180)
async def test_the_widgets_help_center_calls(widget: tuple[Driver, dict[str, Any]]) -> None:
    driver, authored = widget
    booted = await driver.call(
        "mutation",
        path="widgetSessions:boot",
        args={"workspaceId": authored["workspaceId"], "sessionId": "npm-browser"},
    )
    session = {
        "workspaceId": authored["workspaceId"],
        "visitorId": booted["visitor"]["_id"],
        "sessionToken": booted["sessionToken"],
    }
    await driver.call("subscribe", sub="articles", path="articles:listForVisitor", args=session)
    listed = await driver.call("next", sub="articles")
    assert [a["_id"] for a in listed] == [authored["refund"], authored["password"], authored["shipping"]]
    assert all(a["renderedContent"] == a["content"] for a in listed)
    await driver.call("subscribe", sub="tree", path="collections:listHierarchyForVisitor", args=session)
    [collection] = await driver.call("next", sub="tree")
    assert (collection["_id"], collection["articleCount"]) == (authored["collection"], 3)

    found = await driver.call("query", path="articles:searchForVisitor", args={**session, "query": "refund"})
    assert [a["_id"] for a in found] == [authored["refund"]]
    article = await driver.call("query", path="articles:getForVisitor", args={**session, "id": authored["refund"]})
    assert article["title"] == "Refund policy"
    assert await driver.call("query", path="articles:getForVisitor", args={**session, "id": authored["draft"]}) is None

    typed = {**session, "origin": "https://shop.example", "query": "can I get my money back", "limit": 3.0}
    suggested = await driver.call("action", path="suggestions:searchForWidget", args=typed)
    assert suggested[0]["id"] == authored["refund"] and set(suggested[0]) == {"id", "title", "snippet", "score"}

    feedback = {
        "articleId": authored["refund"],
        "helpful": True,
        **{k: session[k] for k in ("visitorId", "sessionToken")},
    }
    assert await driver.call("mutation", path="articles:submitFeedback", args=feedback)
    with pytest.raises(DriverError) as refused:
        await driver.call("query", path="articles:listForVisitor", args={**session, "sessionToken": "wst_" + "0" * 64})
    assert refused.value.data["code"] == "NOT_AUTHENTICATED"
