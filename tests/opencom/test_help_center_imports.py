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


# --- importing, restoring and exporting a Markdown folder --------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
FOLDER = [
    {"relativePath": "docs/getting-started/install.md", "content": "# Install Opencom\n\n![logo](../images/logo.png)\n![gone](missing.png)"},
    {"relativePath": "docs/getting-started/first_steps.md", "content": "No heading here."},
    {"relativePath": "docs/faq.md", "content": '---\ntitle: "Frequently asked"\nslug: faq-page\ncollectionPath: "billing/plans"\n---\n\nAnswers.'},
    {"relativePath": "docs/notes.txt", "content": "ignored"},
]


async def _sync(backend: Backend, team: Team, files=FOLDER, **fields):
    args = {"workspaceId": team.workspace_id, "sourceName": "Docs site", "files": files, **fields}
    return await backend.call("helpCenterImports:syncMarkdownFolder", args, as_=team.admin)


async def _tree(backend: Backend, team: Team) -> tuple[dict, dict]:
    dumped = await backend.dump()
    collections = {c["_id"]: c for c in dumped["collections"] if c["workspaceId"] == team.workspace_id}
    paths = {c["importPath"]: (c["name"], collections[c["parentId"]]["importPath"] if "parentId" in c else None) for c in collections.values()}
    articles = {
        a["importPath"]: (a["title"], a["status"], collections[a["collectionId"]]["importPath"] if "collectionId" in a else None, a["content"])
        for a in dumped["articles"] if a["workspaceId"] == team.workspace_id
    }
    return paths, articles


async def test_a_dry_run_previews_and_writes_nothing(backend: Backend, team: Team):
    before = await backend.dump()
    preview = await _sync(backend, team, dryRun=True, assets=[{"relativePath": "docs/images/logo.png"}])
    assert (preview["dryRun"], preview["strippedRootFolder"], "sourceId" in preview) == (True, "docs", False)
    assert preview["preview"]["collections"]["create"] == ["billing", "billing/plans", "getting-started"]
    assert preview["preview"]["articles"]["create"] == ["faq.md", "getting-started/first_steps.md", "getting-started/install.md"]
    assert (preview["totalFiles"], preview["totalAssets"], preview["totalCollections"]) == (3, 1, 3)
    assert preview["unresolvedImageReferences"] == ["getting-started/install.md: missing.png"]
    after = await backend.dump()
    assert {t: len(rows) for t, rows in after.items() if t != "_scheduled_functions"} == {
        t: len(rows) for t, rows in before.items() if t != "_scheduled_functions"
    }


async def test_import_builds_collections_articles_and_links_images(backend: Backend, team: Team):
    storage_id = await backend.executor.file_storage.store(PNG, "image/png")
    result = await _sync(backend, team, assets=[{"relativePath": "docs/images/logo.png", "storageId": storage_id}])
    assert (result["createdCollections"], result["createdArticles"], result["deletedArticles"]) == (3, 3, 0)
    collections, articles = await _tree(backend, team)
    assert collections == {"billing": ("Billing", None), "billing/plans": ("Plans", "billing"), "getting-started": ("Getting Started", None)}
    [asset] = (await backend.dump())["articleAssets"]
    assert articles["getting-started/install.md"] == (
        "Install Opencom", "published", "getting-started", f"# Install Opencom\n\n![logo](oc-asset://{asset['_id']})\n![gone](missing.png)"
    )
    assert articles["getting-started/first_steps.md"][0] == "First Steps"
    assert articles["faq.md"] == ("Frequently asked", "published", "billing/plans", "Answers.")
    faq = next(a for a in (await backend.dump())["articles"] if a["title"] == "Frequently asked")
    assert faq["slug"] == "faq-page"
    [source] = await backend.call("helpCenterImports:listSources", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert (source["_id"], source["lastImportRunId"], source["lastImportedFileCount"]) == (result["sourceId"], result["importRunId"], 4)


async def test_reimport_updates_archives_removed_items_and_restore_brings_them_back(backend: Backend, team: Team):
    first = await _sync(backend, team)
    changed = [{"relativePath": "docs/getting-started/install.md", "content": "# Install Opencom\n\nNew steps."}]
    second = await _sync(backend, team, files=changed)
    assert second["sourceId"] == first["sourceId"]
    assert (second["updatedArticles"], second["deletedArticles"], second["deletedCollections"]) == (1, 2, 2)
    assert second["preview"]["collections"]["delete"] == ["billing", "billing/plans"]
    collections, articles = await _tree(backend, team)
    assert list(collections) == ["getting-started"] and list(articles) == ["getting-started/install.md"]
    ws = {"workspaceId": team.workspace_id}
    [run] = await backend.call("helpCenterImports:listHistory", ws, as_=team.admin)
    assert (run["importRunId"], run["deletedArticles"], run["deletedCollections"], run["restorableEntries"]) == (second["importRunId"], 2, 2, 4)
    restore = {**ws, "sourceId": first["sourceId"], "importRunId": second["importRunId"]}
    assert await backend.call("helpCenterImports:restoreRun", restore, as_=team.admin) == {"restoredCollections": 2, "restoredArticles": 2}
    collections, articles = await _tree(backend, team)
    assert collections == {"billing": ("Billing", None), "billing/plans": ("Plans", "billing"), "getting-started": ("Getting Started", None)}
    assert articles["faq.md"] == ("Frequently asked", "published", "billing/plans", "Answers.")
    assert await backend.call("helpCenterImports:restoreRun", restore, as_=team.admin) == {"restoredCollections": 0, "restoredArticles": 0}


async def test_an_import_adopts_a_hand_made_article_with_the_same_title(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    handmade = await backend.call("articles:create", {**ws, "title": "Pricing", "content": "old"}, as_=team.admin)
    result = await _sync(backend, team, files=[{"relativePath": "pricing.md", "content": "# Pricing\n\nnew"}])
    assert (result["createdArticles"], result["updatedArticles"]) == (0, 1)
    article = await backend.get(handmade)
    assert (article["content"], article["status"], article["importPath"]) == ("# Pricing\n\nnew", "published", "pricing.md")


async def test_export_writes_front_matter_and_portable_image_links(backend: Backend, team: Team):
    storage_id = await backend.executor.file_storage.store(PNG, "image/png")
    result = await _sync(backend, team, assets=[{"relativePath": "docs/images/logo.png", "storageId": storage_id}])
    ws = {"workspaceId": team.workspace_id}
    exported = await backend.call("helpCenterImports:exportMarkdown", {**ws, "sourceId": result["sourceId"]}, as_=team.admin)
    files = {f["path"]: f for f in exported["files"]}
    assert sorted(files) == ["_assets/images/logo.png", "faq.md", "getting-started/first_steps.md", "getting-started/install.md"]
    install = files["getting-started/install.md"]["content"]
    assert install.startswith('---\ntitle: "Install Opencom"\nslug: "install-opencom"\nstatus: published\n')
    assert 'collectionPath: "getting-started"\nsource: "Docs site"\n---\n\n# Install Opencom' in install
    assert "![logo](../_assets/images/logo.png)" in install
    assert files["_assets/images/logo.png"]["assetUrl"].endswith(storage_id)
    assert exported["count"] == 4 and exported["fileName"].startswith("help-center-markdown-docs-site-")
    # Imported again as exported, the folder lands on the same articles.
    again = await _sync(backend, team, files=[{"relativePath": p, "content": f["content"]} for p, f in files.items() if p.endswith(".md")])
    assert (again["createdArticles"], again["deletedArticles"]) == (0, 0)


async def test_import_refusals_change_nothing(backend: Backend, team: Team):
    await _sync(backend, team)
    before = await backend.dump()
    ws = {"workspaceId": team.workspace_id, "sourceName": "Docs site"}
    cases = [
        ({**ws, "files": [{"relativePath": "notes.txt", "content": "x"}]}, "INVALID_INPUT", "No markdown files were found in this upload"),
        ({**ws, "files": [{"relativePath": "../etc/passwd.md", "content": "x"}]}, "INVALID_INPUT", None),
        ({**ws, "files": [{"relativePath": "a/x.md", "content": "x"}, {"relativePath": "a//x.md", "content": "y"}]}, "INVALID_INPUT", None),
        ({**ws, "files": FOLDER, "assets": [{"relativePath": "docs/images/logo.png"}]}, "INVALID_INPUT", None),
        ({**ws, "files": FOLDER, "sourceKey": "!!!"}, "INVALID_INPUT", "Import source key is required"),
    ]
    for args, code, message in cases:
        refusal = await backend.refused("helpCenterImports:syncMarkdownFolder", args, as_=team.admin, code=code)
        assert message is None or refusal["message"] == message
    after = await backend.dump()
    assert {t: rows for t, rows in after.items() if t != "_scheduled_functions"} == {t: rows for t, rows in before.items() if t != "_scheduled_functions"}
    other = await backend.seed_team("Elsewhere")
    foreign_root = await backend.call("collections:create", {"workspaceId": other.workspace_id, "name": "Theirs"}, as_=other.admin)
    await backend.refused("helpCenterImports:syncMarkdownFolder", {**ws, "files": FOLDER, "rootCollectionId": foreign_root}, as_=team.admin, code="NOT_FOUND")
    await backend.refused("helpCenterImports:syncMarkdownFolder", {**ws, "files": FOLDER}, as_=other.admin, code="NOT_WORKSPACE_MEMBER")
    await backend.refused("helpCenterImports:exportMarkdown", {"workspaceId": team.workspace_id}, as_=other.admin, code="NOT_WORKSPACE_MEMBER")
