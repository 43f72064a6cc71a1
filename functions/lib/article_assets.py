"""Images in help-center articles: uploaded files kept as ``articleAssets`` and referenced from Markdown.

An article's Markdown names an image as ``oc-asset://<asset id>``; readers get ``renderedContent``
with each reference of the article's own workspace replaced by the file's URL. Uploads go through
the runtime's file storage (single-use upload URLs, size-capped by the server); an accepted asset
is an image of ``IMAGE_TYPES`` of at most ``MAX_ASSET_BYTES`` (Opencom's limits). A stored file can
back one asset only, and never a support attachment or a messenger logo too, so nobody can adopt
(and then delete) another person's file by its storage id. Markdown imports save their images here
too, keyed by import path.
"""

import re
from typing import Any

from .clock import now_ms
from .errors import INVALID_INPUT, NOT_FOUND, fail
from .identity import Doc
from .stored_files import require_unclaimed

REFERENCE_PREFIX = "oc-asset://"
ASSET_REFERENCE = re.compile(r"oc-asset://([A-Za-z0-9_-]+)")  # group 1: the asset id
MAX_ASSET_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/avif")
_UNSAFE_NAME_CHARACTERS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def reference(asset_id: str) -> str:
    """How Markdown names the asset."""
    return REFERENCE_PREFIX + asset_id


def asset_file_name(raw: str | None) -> str:
    """A file name safe to show and download: unsafe characters and spaces become single dashes."""
    name = re.sub(r"-+", "-", re.sub(r"\s+", "-", _UNSAFE_NAME_CHARACTERS.sub("-", (raw or "").strip()))).strip("-")
    return name or f"article-image-{int(now_ms())}"


def referenced_ids(content: str) -> list[str]:
    """The asset ids Markdown references, in first-seen order."""
    return list(dict.fromkeys(ASSET_REFERENCE.findall(content)))


async def render(ctx: Any, workspace_id: str, content: str) -> str:
    """``content`` with each reference to an asset of ``workspace_id`` replaced by its file's URL."""
    urls: dict[str, str] = {}
    for asset_id in referenced_ids(content):
        normalized = ctx.db.normalize_id("articleAssets", asset_id)
        asset = await ctx.db.get(normalized) if normalized else None
        if asset is not None and asset["workspaceId"] == workspace_id:
            url = await ctx.storage.get_url(asset["storageId"])
            if url is not None:
                urls[asset_id] = url
    return ASSET_REFERENCE.sub(lambda match: urls.get(match.group(1), match.group(0)), content) if urls else content


async def rendered(ctx: Any, article: Doc) -> Doc:
    """The article as the frontends render it: ``renderedContent`` with asset URLs."""
    return {**article, "renderedContent": await render(ctx, article["workspaceId"], article["content"])}


async def described(ctx: Any, asset: Doc) -> Doc:
    """The asset with its Markdown ``reference`` and file ``url``."""
    return {**asset, "reference": reference(asset["_id"]), "url": await ctx.storage.get_url(asset["storageId"])}


async def _uploaded_image(ctx: Any, storage_id: str, keep: str | None) -> dict:
    """The upload's metadata once it passes the checks; ``keep`` is the asset allowed to hold it already."""
    metadata = await ctx.storage.get_metadata(storage_id)
    if metadata is None:
        fail(NOT_FOUND, "Uploaded file not found")
    await require_unclaimed(ctx, storage_id, keep)
    if metadata.get("contentType") not in IMAGE_TYPES:
        fail(INVALID_INPUT, "Unsupported image type. Allowed: PNG, JPEG, GIF, WEBP, AVIF.")
    if metadata["size"] > MAX_ASSET_BYTES:
        fail(INVALID_INPUT, "Image exceeds 5MB maximum size.")
    return metadata


async def save_asset(
    ctx: Any,
    workspace_id: str,
    storage_id: str,
    *,
    file_name: str | None,
    user_id: str,
    article_id: str | None = None,
    import_source_id: str | None = None,
    import_path: str | None = None,
) -> dict:
    """Record an uploaded image as an asset; an import re-saving the same path replaces its file.

    Returns ``{assetId, reference, url, fileName, mimeType, size}``.
    """
    existing = None
    if import_source_id is not None and import_path is not None:
        existing = await (
            ctx.db.query("articleAssets")
            .with_index(
                "by_import_source_path",
                lambda q: q.eq("importSourceId", import_source_id).eq("importPath", import_path),
            )
            .first()
        )
    metadata = await _uploaded_image(ctx, storage_id, existing["_id"] if existing else None)
    now = now_ms()
    fields: dict[str, Any] = {
        "storageId": storage_id,
        "fileName": asset_file_name(file_name),
        "mimeType": metadata["contentType"],
        "size": float(metadata["size"]),
        "updatedAt": now,
    }
    if article_id is not None:
        fields["articleId"] = article_id
    if existing is not None:
        if existing["storageId"] != storage_id:
            await ctx.storage.delete(existing["storageId"])
        await ctx.db.patch(existing["_id"], fields)
        asset_id = existing["_id"]
    else:
        place = {"importSourceId": import_source_id, "importPath": import_path}
        place = {field: value for field, value in place.items() if value is not None}
        asset_id = await ctx.db.insert(
            "articleAssets", {"workspaceId": workspace_id, **place, **fields, "createdBy": user_id, "createdAt": now}
        )
    return {
        "assetId": asset_id,
        "reference": reference(asset_id),
        "url": await ctx.storage.get_url(storage_id),
        "fileName": fields["fileName"],
        "mimeType": fields["mimeType"],
        "size": fields["size"],
    }


async def referencing_titles(ctx: Any, workspace_id: str, asset_id: str) -> list[str]:
    """The titles of the workspace's articles whose Markdown references the asset."""
    marker = reference(asset_id)
    articles = ctx.db.query("articles").with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
    return [article["title"] async for article in articles if marker in article["content"]]
