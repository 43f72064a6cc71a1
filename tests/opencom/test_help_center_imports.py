"""Help-center import sources and history, as the articles screen lists them: newest first, one row
per source and import run with its counts, and only for those who may read articles."""

from opencom_backend import Backend, Team


async def _source(backend: Backend, team: Team, name: str, updated_at: float, **fields) -> str:
    return await backend.insert(
        "helpCenterImportSources",
        {"workspaceId": team.workspace_id, "sourceKey": name.lower(), "sourceName": name,
         "createdAt": 1.0, "updatedAt": updated_at, **fields},
    )


async def _archived(backend: Backend, team: Team, source_id: str, run: str, kind: str, deleted_at: float, **fields):
    await backend.insert(
        "helpCenterImportArchives",
        {"workspaceId": team.workspace_id, "sourceId": source_id, "importRunId": run, "entityType": kind,
         "importPath": f"{run}/{deleted_at}", "name": "x", "deletedAt": deleted_at, **fields},
    )


async def test_sources_newest_first_with_their_root_collection(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    root = await backend.call("collections:create", {**ws, "name": "Guides"}, as_=team.admin)
    await _source(backend, team, "Docs", 10.0, rootCollectionId=root)
    await _source(backend, team, "Blog", 20.0)
    sources = await backend.call("helpCenterImports:listSources", ws, as_=team.admin)
    assert [(s["sourceName"], s.get("rootCollectionName")) for s in sources] == [("Blog", None), ("Docs", "Guides")]


async def test_history_groups_runs_counts_restores_and_limits(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    docs = await _source(backend, team, "Docs", 1.0)
    blog = await _source(backend, team, "Blog", 1.0)
    await _archived(backend, team, docs, "run-1", "article", 100.0)
    await _archived(backend, team, docs, "run-1", "collection", 150.0, restoredAt=160.0)
    await _archived(backend, team, docs, "run-1", "article", 120.0)
    await _archived(backend, team, blog, "run-2", "article", 300.0)
    history = await backend.call("helpCenterImports:listHistory", ws, as_=team.admin)
    assert [(h["sourceName"], h["importRunId"]) for h in history] == [("Blog", "run-2"), ("Docs", "run-1")]
    assert {k: history[1][k] for k in ("deletedAt", "deletedArticles", "deletedCollections", "restoredEntries",
                                       "totalEntries", "restorableEntries")} == {
        "deletedAt": 150.0, "deletedArticles": 2, "deletedCollections": 1, "restoredEntries": 1,
        "totalEntries": 3, "restorableEntries": 2,
    }
    only_docs = await backend.call("helpCenterImports:listHistory", {**ws, "sourceId": docs}, as_=team.admin)
    assert [h["importRunId"] for h in only_docs] == ["run-1"]
    newest = await backend.call("helpCenterImports:listHistory", {**ws, "limit": 1.0}, as_=team.admin)
    assert [h["importRunId"] for h in newest] == ["run-2"]


async def test_only_article_readers_list_imports(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    await backend.refused("helpCenterImports:listSources", ws, code="NOT_AUTHENTICATED")
    outsider = await backend.seed_team("Elsewhere")
    await backend.refused("helpCenterImports:listHistory", ws, as_=outsider.admin)
