"""articles:*Asset*: images uploaded for articles, referenced as oc-asset://, rendered as URLs, and refusals."""

from __future__ import annotations

import pytest
from opencom_backend import Backend, Team

pytestmark = pytest.mark.asyncio

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


async def _article(backend: Backend, team: Team, content: str = "text") -> str:
    args = {"workspaceId": team.workspace_id, "title": "Guide", "content": content}
    return await backend.call("articles:create", args, as_=team.admin)


async def _upload(backend: Backend, data: bytes = PNG, content_type: str = "image/png") -> str:
    return await backend.executor.file_storage.store(data, content_type)


async def test_an_image_is_saved_listed_rendered_and_deleted(backend: Backend, team: Team):
    article = await _article(backend, team)
    url = await backend.call("articles:generateAssetUploadUrl", {"workspaceId": team.workspace_id}, as_=team.admin)
    assert "/api/storage/upload" in url
    storage_id = await _upload(backend)
    args = {
        "workspaceId": team.workspace_id,
        "articleId": article,
        "storageId": storage_id,
        "fileName": " my  screen:shot.png ",
    }
    saved = await backend.call("articles:saveAsset", args, as_=team.admin)
    assert (saved["fileName"], saved["mimeType"], saved["size"]) == ("my-screen-shot.png", "image/png", float(len(PNG)))
    assert saved["reference"] == f"oc-asset://{saved['assetId']}" and saved["url"].endswith(storage_id)
    listed = await backend.call(
        "articles:listAssets", {"workspaceId": team.workspace_id, "articleId": article}, as_=team.admin
    )
    assert [(row["_id"], row["reference"], row["url"]) for row in listed] == [
        (saved["assetId"], saved["reference"], saved["url"])
    ]
    await backend.call("articles:update", {"id": article, "content": f"![shot]({saved['reference']})"}, as_=team.admin)
    shown = await backend.call("articles:get", {"id": article}, as_=team.admin)
    assert shown["renderedContent"] == f"![shot]({saved['url']})"
    refusal = await backend.refused(
        "articles:deleteAsset",
        {"workspaceId": team.workspace_id, "assetId": saved["assetId"]},
        as_=team.admin,
        code="INVALID_INPUT",
    )
    assert refusal["message"] == "Asset is still referenced by 1 article(s): Guide"
    await backend.call("articles:update", {"id": article, "content": "no image"}, as_=team.admin)
    assert await backend.call(
        "articles:deleteAsset", {"workspaceId": team.workspace_id, "assetId": saved["assetId"]}, as_=team.admin
    ) == {"success": True}
    assert await backend.call("articles:listAssets", {"workspaceId": team.workspace_id}, as_=team.admin) == []
    assert backend.executor.file_storage.row(storage_id) is None


async def test_uploads_that_are_not_acceptable_images_are_refused(backend: Backend, team: Team):
    base = {"workspaceId": team.workspace_id}
    cases = [
        (
            await _upload(backend, b"%PDF", "application/pdf"),
            "INVALID_INPUT",
            "Unsupported image type. Allowed: PNG, JPEG, GIF, WEBP, AVIF.",
        ),
        (await _upload(backend, b"\0" * (5 * 1024 * 1024 + 1)), "INVALID_INPUT", "Image exceeds 5MB maximum size."),
    ]
    gone = await _upload(backend)
    await backend.t.run(lambda ctx: ctx.storage.delete(gone))
    cases.append((gone, "NOT_FOUND", "Uploaded file not found"))
    before = await backend.dump()
    for storage_id, code, message in cases:
        refusal = await backend.refused(
            "articles:saveAsset", {**base, "storageId": storage_id}, as_=team.admin, code=code
        )
        assert refusal["message"] == message
    assert (await backend.dump())["articleAssets"] == before["articleAssets"] == []


async def test_nobody_adopts_or_touches_another_workspaces_images(backend: Backend, team: Team):
    other = await backend.seed_team()
    storage_id = await _upload(backend)
    saved = await backend.call(
        "articles:saveAsset", {"workspaceId": team.workspace_id, "storageId": storage_id}, as_=team.admin
    )
    await backend.refused(
        "articles:saveAsset",
        {"workspaceId": other.workspace_id, "storageId": storage_id},
        as_=other.admin,
        code="NOT_AUTHORIZED",
    )
    logo = await _upload(backend)  # a workspace's messenger logo: its URL (so its id) is public
    await backend.call(
        "messengerSettings:saveLogo", {"workspaceId": team.workspace_id, "storageId": logo}, as_=team.admin
    )
    await backend.refused(
        "articles:saveAsset",
        {"workspaceId": other.workspace_id, "storageId": logo},
        as_=other.admin,
        code="NOT_AUTHORIZED",
    )
    await backend.refused(
        "articles:deleteAsset",
        {"workspaceId": other.workspace_id, "assetId": saved["assetId"]},
        as_=other.admin,
        code="NOT_FOUND",
    )
    await backend.refused(
        "articles:deleteAsset",
        {"workspaceId": team.workspace_id, "assetId": saved["assetId"]},
        as_=other.admin,
        code="NOT_WORKSPACE_MEMBER",
    )
    await backend.refused("articles:listAssets", {"workspaceId": team.workspace_id}, code="NOT_AUTHENTICATED")
    await backend.refused(
        "articles:generateAssetUploadUrl",
        {"workspaceId": team.workspace_id},
        as_=other.admin,
        code="NOT_WORKSPACE_MEMBER",
    )
    foreign_article = await _article(backend, other)
    args = {"workspaceId": team.workspace_id, "articleId": foreign_article, "storageId": await _upload(backend)}
    await backend.refused("articles:saveAsset", args, as_=team.admin, code="NOT_FOUND")
    # Another workspace's asset id in an article's Markdown is not resolved to its URL.
    article = await _article(backend, other, f"![x](oc-asset://{saved['assetId']})")
    shown = await backend.call("articles:get", {"id": article}, as_=other.admin)
    assert shown["renderedContent"] == shown["content"]
    agent = await backend.add_member(team, "agent")
    await backend.refused(
        "articles:deleteAsset",
        {"workspaceId": team.workspace_id, "assetId": saved["assetId"]},
        as_=agent,
        code="PERMISSION_DENIED",
    )


async def test_a_file_held_by_one_record_is_claimed_by_no_other_path(backend: Backend, team: Team):
    """An image, a logo and an attachment each hold their own file: naming another's id is refused."""
    other = await backend.seed_team()
    image = await _upload(backend)
    await backend.call("articles:saveAsset", {"workspaceId": team.workspace_id, "storageId": image}, as_=team.admin)
    logo = await _upload(backend)
    await backend.call("messengerSettings:saveLogo", {"workspaceId": team.workspace_id, "storageId": logo}, as_=team.admin)
    before = await backend.dump()
    for storage_id in (image, logo):
        refusal = await backend.refused(
            "messengerSettings:saveLogo",
            {"workspaceId": other.workspace_id, "storageId": storage_id},
            as_=other.admin,
            code="NOT_AUTHORIZED",
        )
        assert refusal["message"] == "Uploaded file is already in use"
        await backend.refused(
            "supportAttachments:finalizeUpload",
            {"workspaceId": other.workspace_id, "storageId": storage_id},
            as_=other.admin,
            code="NOT_AUTHORIZED",
        )
    assert await backend.dump() == before
    # Saving the same logo again is not a claim by someone else.
    await backend.call("messengerSettings:saveLogo", {"workspaceId": team.workspace_id, "storageId": logo}, as_=team.admin)
