"""The dashboard's campaigns and articles screens end to end: the real server, and apps/web's calls
(with its argument shapes) made by the official npm ``convex`` client
(tests/npm/opencom_dashboard_content_e2e.mjs).

Carousels are created, listed live, edited, activated, duplicated, paused and removed; an article
image is uploaded through a single-use URL, saved, listed live, rendered as its URL and deleted
once unreferenced; a Markdown folder is previewed, imported with its image, exported, re-imported
without one file and restored; the embeddings backfill runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.npm_support import scenario_steps


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the dashboard saw, by step name."""
    data_dir = tmp_path_factory.mktemp("dashboard-content-e2e") / "data"
    return scenario_steps(
        "opencom_dashboard_content_e2e.mjs", data_dir, "content-agent@test.opencom.dev", "Opencom!content-e2e"
    )


def test_the_campaigns_screen_manages_carousels(seen: dict[str, Any]) -> None:
    carousels = seen["carousels"]
    assert carousels["empty"] == [] and carousels["listedName"] == "New Carousel"
    editor = carousels["editor"]
    assert (editor["name"], editor["status"], editor["priority"]) == ("Onboarding", "active", 2)
    assert editor["screens"] == [
        {
            "id": "screen-1",
            "title": "Welcome",
            "buttons": [{"text": "Docs", "action": "url", "url": "https://opencom.dev"}],
        }
    ]
    assert carousels["stats"] == {
        "shown": 0,
        "completed": 0,
        "dismissed": 0,
        "uniqueVisitors": 0,
        "completionRate": 0,
        "dismissRate": 0,
    }
    assert carousels["badUrl"] == {
        "code": "INVALID_INPUT",
        "message": "Screen 1, button 1 requires a valid http(s) URL.",
    }
    assert carousels["after"] == [[True, "Onboarding", "paused"]]


def test_the_article_editor_uploads_renders_and_deletes_images(seen: dict[str, Any]) -> None:
    assets = seen["assets"]
    assert assets["reuseStatus"] >= 400  # an upload URL works once
    assert assets["saved"] == {"fileName": "Screen-Shot.png", "mimeType": "image/png", "size": 12, "reference": True}
    assert assets["listed"] == [True]
    assert (assets["imageStatus"], assets["imageBytes"]) == (200, 12)
    assert assets["stillUsed"]["code"] == "INVALID_INPUT" and assets["deleted"] == {"success": True}


def test_the_articles_screen_imports_exports_and_restores_markdown(seen: dict[str, Any]) -> None:
    imports = seen["imports"]
    assert imports["dryRun"] is True and imports["preview"]["articles"]["create"] == [
        "start/intro.md",
        "start/setup.md",
    ]
    assert (imports["created"], imports["stripped"], imports["source"]) == (2, "handbook", "Handbook")
    assert sorted(imports["exported"]) == [
        ["_assets/img/logo.png", "asset"],
        ["start/intro.md", "markdown"],
        ["start/setup.md", "markdown"],
    ]
    assert imports["deleted"] == 1 and imports["history"] == [[True, 1]]
    assert imports["restored"] == {"restoredCollections": 0, "restoredArticles": 1}
    backfill = imports["backfill"]  # the import's own embedding jobs may have run first
    assert backfill["total"] == 2 and backfill["processed"] + backfill["skipped"] == 2
