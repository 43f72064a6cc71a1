"""Semantic search: embeddings computed by the scheduled action, then suggestions and knowledge search.

The embeddings are the real local model's (deterministic, offline), so the relevance assertions
below are about meaning: "money back" must find the refund article without sharing a word with it.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opencom_backend import Backend, Team

from runtime.functions.executor import Executor

ARTICLES = {
    "refund": ("Refund policy", "Request a refund within 30 days of purchase and we return the full price."),
    "password": ("Reset your password", "Open account settings and choose forgot password to get a reset link."),
    "shipping": ("Shipping times", "Parcels reach Europe in five working days by courier."),
}


async def run_embedding_jobs(backend: Backend) -> int:
    """Run every pending ``embeddings`` job once, in schedule order (the job runner is off in tests)."""
    done: set[str] = backend.__dict__.setdefault("_embedding_jobs_done", set())
    jobs = sorted(
        (job for job in (await backend.dump())["_scheduled_functions"] if job["name"].startswith("embeddings.js:")),
        key=lambda job: (job["scheduledTime"], job["_creationTime"]),
    )
    ran = 0
    for job in jobs:
        if job["_id"] not in done:
            done.add(job["_id"])
            await backend.internal(job["name"].replace(".js", ""), job["args"][0])
            ran += 1
    return ran


async def _publish(backend: Backend, team: Team, key: str, **fields: Any) -> str:
    title, content = ARTICLES[key]
    article_id = await backend.call(
        "articles:create",
        {"workspaceId": team.workspace_id, "title": title, "content": content, **fields},
        as_=team.admin,
    )
    await backend.call("articles:publish", {"id": article_id}, as_=team.admin)
    return article_id


async def _library(backend: Backend, team: Team) -> dict[str, str]:
    ids = {key: await _publish(backend, team, key) for key in ARTICLES}
    await run_embedding_jobs(backend)
    return ids


async def test_publishing_embeds_and_unpublishing_removes(backend: Backend, team: Team):
    ids = await _library(backend, team)
    rows = (await backend.dump())["contentEmbeddings"]
    assert sorted(row["contentId"] for row in rows) == sorted(ids.values())
    assert all(len(row["embedding"]) == 256 and row["contentType"] == "article" for row in rows)
    assert {row["snippet"] for row in rows} == {content for _, content in ARTICLES.values()}
    ws = {"workspaceId": team.workspace_id}

    found = await backend.call(
        "knowledge:searchWithEmbeddings", {**ws, "query": "I want my money back"}, as_=team.admin
    )
    assert found[0]["id"] == ids["refund"] and len(found) == 3
    assert found[0]["content"] == ARTICLES["refund"][1] and found[0]["slug"] == "refund-policy"
    assert found[0]["relevanceScore"] > found[-1]["relevanceScore"]
    lost = await backend.call(
        "knowledge:searchWithEmbeddings", {**ws, "query": "I forgot my login", "limit": 1.0}, as_=team.admin
    )
    assert [hit["id"] for hit in lost] == [ids["password"]]

    await backend.call("articles:unpublish", {"id": ids["refund"]}, as_=team.admin)
    await run_embedding_jobs(backend)
    assert ids["refund"] not in {row["contentId"] for row in (await backend.dump())["contentEmbeddings"]}
    found = await backend.call(
        "knowledge:searchWithEmbeddings", {**ws, "query": "I want my money back"}, as_=team.admin
    )
    assert ids["refund"] not in [hit["id"] for hit in found]


async def test_edits_reembed_and_stale_jobs_store_nothing(backend: Backend, team: Team):
    article_id = await _publish(backend, team, "shipping")
    await backend.call(
        "articles:update", {"id": article_id, "content": "Refunds are paid back within a week."}, as_=team.admin
    )
    jobs = [j for j in (await backend.dump())["_scheduled_functions"] if j["name"] == "embeddings.js:generateInternal"]
    stale, fresh = (job["args"][0] for job in jobs)
    assert await backend.internal("embeddings:generateInternal", stale) == {"stored": False, "skipped": False}
    assert (await backend.dump())["contentEmbeddings"] == []
    assert await backend.internal("embeddings:generateInternal", fresh) == {"stored": True, "skipped": False}
    [row] = (await backend.dump())["contentEmbeddings"]
    assert row["snippet"] == "Refunds are paid back within a week."
    assert await backend.internal("embeddings:generateInternal", fresh) == {"stored": False, "skipped": True}
    # Moving a published article to internal re-files its embedding under the other content type.
    await backend.call("articles:update", {"id": article_id, "visibility": "internal"}, as_=team.admin)
    await run_embedding_jobs(backend)
    assert [r["contentType"] for r in (await backend.dump())["contentEmbeddings"]] == ["internalArticle"]


async def test_backfill_reembeds_only_what_changed(backend: Backend, team: Team):
    ids = await _library(backend, team)
    await backend.call("articles:archive", {"id": ids["shipping"]}, as_=team.admin)
    await run_embedding_jobs(backend)
    assert await backend.internal("embeddings:backfill", {"workspaceId": team.workspace_id}) == {"scheduled": 2}
    jobs = [j for j in (await backend.dump())["_scheduled_functions"] if j["name"] == "embeddings.js:generateInternal"]
    results = [await backend.internal("embeddings:generateInternal", job["args"][0]) for job in jobs[-2:]]
    assert results == [{"stored": False, "skipped": True}] * 2
    assert await backend.internal("embeddings:backfill", {}) == {"scheduled": 2}


async def test_the_articles_screens_backfill_embeds_what_is_missing(backend: Backend, team: Team):
    for key in ARTICLES:  # published, their scheduled embedding jobs not run
        await _publish(backend, team, key)
    ws = {"workspaceId": team.workspace_id}
    articles_only = {**ws, "contentTypes": ["article", "internalArticle"]}
    assert await backend.call("embeddings:backfillExisting", articles_only, as_=team.admin) == {"total": 3, "processed": 3, "skipped": 0}
    assert len({row["contentId"] for row in (await backend.dump())["contentEmbeddings"]}) == 3
    assert await backend.call("embeddings:backfillExisting", articles_only, as_=team.admin) == {"total": 3, "processed": 0, "skipped": 3}
    agent = await backend.add_member(team, "agent")
    await backend.refused("embeddings:backfillExisting", ws, as_=agent, code="PERMISSION_DENIED")
    await backend.refused("embeddings:backfillExisting", ws, as_=(await backend.seed_team()).admin, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("embeddings:backfillExisting", ws, code="NOT_AUTHENTICATED")


async def test_snippets_are_searchable_knowledge(backend: Backend, team: Team):
    ids = await _library(backend, team)
    ws = {"workspaceId": team.workspace_id}
    snippet = await backend.call(
        "snippets:create", {**ws, "name": "Apology", "content": "Sorry for the trouble, we are on it."}, as_=team.admin
    )
    await run_embedding_jobs(backend)
    only_snippets = {**ws, "query": "we apologise for the inconvenience", "contentTypes": ["snippet"]}
    [hit] = await backend.call("knowledge:searchWithEmbeddings", only_snippets, as_=team.admin)
    assert (hit["id"], hit["type"], hit["content"]) == (snippet, "snippet", "Sorry for the trouble, we are on it.")
    everything = await backend.call("knowledge:searchWithEmbeddings", {**ws, "query": "refund"}, as_=team.admin)
    assert {h["id"] for h in everything} == {*ids.values(), snippet}
    await backend.call("snippets:remove", {"id": snippet}, as_=team.admin)
    await run_embedding_jobs(backend)
    assert snippet not in {row["contentId"] for row in (await backend.dump())["contentEmbeddings"]}


async def test_widget_suggestions(backend: Backend, team: Team):
    ids = await _library(backend, team)
    internal = await _publish(backend, team, "refund", visibility="internal")
    await run_embedding_jobs(backend)
    visitor = await backend.boot(team.workspace_id)
    ask = {"workspaceId": team.workspace_id, "visitorId": visitor.visitor_id, "sessionToken": visitor.token}
    money = {**ask, "query": "How do I get my money back?", "origin": "https://shop.example"}

    assert await backend.call("suggestions:searchForWidget", money) == []  # the toggle is off by default
    await backend.call(
        "automationSettings:upsert", {"workspaceId": team.workspace_id, "suggestArticlesEnabled": True}, as_=team.admin
    )
    suggested = await backend.call("suggestions:searchForWidget", money)
    assert suggested[0]["id"] == ids["refund"] and len(suggested) == 3
    assert set(suggested[0]) == {"id", "title", "snippet", "score"}
    assert internal not in {s["id"] for s in suggested}
    assert len(await backend.call("suggestions:searchForWidget", {**money, "limit": 1.0})) == 1
    assert await backend.call("suggestions:searchForWidget", {**ask, "query": " a "}) == []
    await backend.refused("suggestions:searchForWidget", {**ask, "query": "x" * 201}, code="INVALID_INPUT")

    other = await backend.boot(team.workspace_id)
    await backend.refused("suggestions:searchForWidget", {**money, "sessionToken": other.token}, code="NOT_AUTHORIZED")
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://shop.example"]},
        as_=team.admin,
    )
    assert await backend.call("suggestions:searchForWidget", money)
    await backend.refused(
        "suggestions:searchForWidget", {**money, "origin": "https://evil.example"}, code="NOT_AUTHORIZED"
    )


async def test_conversation_suggestions_and_feedback(backend: Backend, team: Team):
    ids = await _library(backend, team)
    visitor = await backend.boot(team.workspace_id)
    conversation = await backend.visitor_conversation(visitor)
    send = {
        "conversationId": conversation,
        "sessionToken": visitor.token,
        "senderType": "visitor",
        "senderId": visitor.visitor_id,
    }
    await backend.call("messages:send", {**send, "content": "The parcel arrived broken, I want my money back"})
    ask = {"conversationId": conversation}

    assert await backend.call("suggestions:getForConversation", ask, as_=team.admin) == []  # no AI settings yet
    now = 1.0
    await backend.insert(
        "aiAgentSettings",
        {
            "workspaceId": team.workspace_id,
            "enabled": False,
            "knowledgeSources": ["articles"],
            "confidenceThreshold": 0.6,
            "model": "openai/gpt-5-nano",
            "suggestionsEnabled": True,
            "createdAt": now,
            "updatedAt": now,
        },
    )
    suggested = await backend.call("suggestions:getForConversation", {**ask, "limit": 2.0}, as_=team.admin)
    assert suggested[0]["id"] == ids["refund"] and len(suggested) == 2
    assert suggested[0]["content"] == ARTICLES["refund"][1]
    assert suggested[0]["type"] == "article" and suggested[0]["embeddingModel"] == "wordllama-l2-supercat-256"

    outsider = (await backend.seed_team()).admin
    await backend.refused("suggestions:getForConversation", ask, as_=outsider, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("suggestions:getForConversation", ask, code="NOT_AUTHENTICATED")

    track = {
        "workspaceId": team.workspace_id,
        "conversationId": conversation,
        "contentType": "article",
        "contentId": ids["refund"],
    }
    await backend.call(
        "suggestions:trackUsage", {**track, "embeddingModel": "wordllama-l2-supercat-256"}, as_=team.admin
    )
    await backend.call("suggestions:trackDismissal", {**track, "contentId": ids["shipping"]}, as_=team.admin)
    rows = (await backend.dump())["suggestionFeedback"]
    assert sorted((r["action"], r["contentId"], r["userId"]) for r in rows) == sorted(
        [("used", ids["refund"], team.admin.user_id), ("dismissed", ids["shipping"], team.admin.user_id)]
    )
    other = await backend.seed_team()
    misfiled = {**track, "workspaceId": other.workspace_id}
    await backend.refused("suggestions:trackUsage", misfiled, as_=other.admin, code="NOT_FOUND")
    await backend.refused("suggestions:trackUsage", track, as_=other.admin, code="NOT_WORKSPACE_MEMBER")


async def test_recently_used_knowledge(backend: Backend, team: Team):
    ids = await _library(backend, team)
    snippet = await backend.call(
        "snippets:create", {"workspaceId": team.workspace_id, "name": "Thanks", "content": "Thank you!"}, as_=team.admin
    )
    me = {"userId": team.admin.user_id, "workspaceId": team.workspace_id}
    first = await backend.call(
        "knowledge:trackAccess", {**me, "contentType": "article", "contentId": ids["refund"]}, as_=team.admin
    )
    await backend.call("knowledge:trackAccess", {**me, "contentType": "snippet", "contentId": snippet}, as_=team.admin)
    again = await backend.call(
        "knowledge:trackAccess", {**me, "contentType": "article", "contentId": ids["refund"]}, as_=team.admin
    )
    assert again == first
    recent = await backend.call("knowledge:getRecentlyUsed", me, as_=team.admin)
    assert [(r["type"], r["id"]) for r in recent] == [("article", ids["refund"]), ("snippet", snippet)]
    assert recent[0]["slug"] == "refund-policy" and recent[1]["title"] == "Thanks"
    await backend.call("articles:remove", {"id": ids["refund"]}, as_=team.admin)
    assert [r["id"] for r in await backend.call("knowledge:getRecentlyUsed", me, as_=team.admin)] == [snippet]

    agent = await backend.add_member(team, "agent")
    await backend.refused("knowledge:getRecentlyUsed", me, as_=agent, code="NOT_AUTHORIZED")
    await backend.refused(
        "knowledge:trackAccess",
        {**me, "contentType": "snippet", "contentId": snippet},
        as_=agent,
        code="NOT_AUTHORIZED",
    )
    for n in range(52):
        await backend.call(
            "knowledge:trackAccess", {**me, "contentType": "snippet", "contentId": f"s{n}"}, as_=team.admin
        )
    assert len((await backend.dump())["recentContentAccess"]) == 50


@pytest.mark.timeout(120)
async def test_the_job_runner_embeds_published_articles(tmp_path: Path):
    executor = Executor.open(Path(__file__).resolve().parents[2], tmp_path / "data", synchronous="OFF")
    backend = Backend(executor)  # the job runner stays on: the scheduled action runs by itself
    try:
        team = await backend.seed_team()
        article_id = await _publish(backend, team, "password")
        for _ in range(400):
            if (await backend.dump())["contentEmbeddings"]:
                break
            await asyncio.sleep(0.05)
        hits = await backend.call(
            "knowledge:searchWithEmbeddings",
            {"workspaceId": team.workspace_id, "query": "locked out of my account"},
            as_=team.admin,
        )
        assert [hit["id"] for hit in hits] == [article_id]
    finally:
        await executor.close()
