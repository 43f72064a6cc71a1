"""Support attachments: files a visitor or an agent uploads, staged first, then bound to one message,
ticket or ticket comment.

An upload becomes a ``staged`` row owned by its uploader (``stage``) and expires an hour later
unless the same uploader binds it (``bind_staged``), which makes it ``attached`` for good. Only
attached rows are ever shown (``describe``); expired staged rows and their files are removed by
``supportAttachments:cleanupExpiredStagedUploads``. The limits are Opencom's: 10 MiB a file, five
files a parent, and only the extensions of ``MIME_TYPE_BY_EXTENSION``.
"""

from typing import Any

from runtime import UNDEFINED

from .actors import Actor
from .clock import HOUR_MS, now_ms
from .errors import INVALID_INPUT, NOT_AUTHORIZED, NOT_FOUND, fail
from .identity import Doc

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_PARENT = 5
STAGED_TTL_MS = HOUR_MS
MIME_TYPE_BY_EXTENSION = {
    "csv": "text/csv",
    "json": "application/json",
    "pdf": "application/pdf",
    "gif": "image/gif",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
    "webp": "image/webp",
    "zip": "application/zip",
}
SUPPORTED_TYPES_LABEL = "PNG, JPEG, GIF, WEBP, PDF, TXT, CSV, JSON, and ZIP"
DEFAULT_FILE_NAME = "attachment"
_PARENT_FIELDS = {"message": "messageId", "ticket": "ticketId", "ticketComment": "ticketCommentId"}


def normalize_file_name(file_name: str | None) -> str:
    """The base name of a client-supplied path, or ``attachment`` when nothing is left."""
    base = (file_name or "").replace("\\", "/").split("/")[-1].strip()
    return base or DEFAULT_FILE_NAME


def mime_type_for(file_name: str) -> str | None:
    """The MIME type an allowed extension stands for, or None (no extension, or not allowed)."""
    dot = file_name.rfind(".")
    if dot <= 0 or dot == len(file_name) - 1:
        return None
    return MIME_TYPE_BY_EXTENSION.get(file_name[dot + 1 :].lower())


def rejection(file_name: str, size: float) -> str | None:
    """Why a finalized upload is refused (type first, then size), or None when it is acceptable."""
    if mime_type_for(file_name) is None:
        return f"Unsupported file type. Allowed: {SUPPORTED_TYPES_LABEL}."
    if size > MAX_ATTACHMENT_BYTES:
        return f"File exceeds {MAX_ATTACHMENT_BYTES // (1024 * 1024)}MB maximum size."
    return None


def unique_ids(attachment_ids: list[str] | None) -> list[str]:
    """The ids in first-seen order without repeats (clients may send one file twice)."""
    return list(dict.fromkeys(attachment_ids or []))


async def stage(ctx: Any, workspace_id: str, actor: Actor, storage_id: str, file_name: str, size: float) -> str:
    """Record an accepted upload as staged for ``actor``; returns the attachment id."""
    now = now_ms()
    return await ctx.db.insert(
        "supportAttachments",
        {
            "workspaceId": workspace_id,
            "storageId": storage_id,
            "fileName": file_name,
            "mimeType": mime_type_for(file_name),
            "size": float(size),
            "status": "staged",
            "uploadedByType": actor.kind,
            "uploadedById": actor.id,
            "createdAt": now,
            "expiresAt": now + STAGED_TTL_MS,
        },
    )


async def bind_staged(
    ctx: Any, workspace_id: str, attachment_ids: list[str] | None, actor: Actor, parent: str, parent_id: str
) -> list[str]:
    """Attach the actor's staged files to one parent (``message``/``ticket``/``ticketComment``).

    Every id is checked before any is changed, so a refusal binds nothing. Returns the bound ids.
    """
    ids = unique_ids(attachment_ids)
    if not ids:
        return []
    if len(ids) > MAX_ATTACHMENTS_PER_PARENT:
        fail(INVALID_INPUT, f"You can attach up to {MAX_ATTACHMENTS_PER_PARENT} files at a time.")
    now = now_ms()
    rows = [await ctx.db.get(attachment_id) for attachment_id in ids]
    for attachment_id, row in zip(ids, rows, strict=True):
        if row is None or row["workspaceId"] != workspace_id:
            fail(NOT_FOUND, f"Attachment {attachment_id} was not found")
        if row["status"] != "staged" or any(field in row for field in _PARENT_FIELDS.values()):
            fail(INVALID_INPUT, "Attachment has already been used")
        if row.get("expiresAt", 0.0) <= now:
            fail(INVALID_INPUT, "Attachment upload expired. Please upload again.")
        if row["uploadedByType"] != actor.kind or row["uploadedById"] != actor.id:
            fail(NOT_AUTHORIZED, "Not authorized to use this attachment")
    for row in rows:
        await ctx.db.patch(
            row["_id"],
            {"status": "attached", _PARENT_FIELDS[parent]: parent_id, "attachedAt": now, "expiresAt": UNDEFINED},
        )
    return ids


async def describe(ctx: Any, attachment_ids: list[str] | None) -> list[Doc]:
    """``{_id, fileName, mimeType, size, url?}`` of each attached file, in order; missing ones are skipped."""
    described = []
    for attachment_id in unique_ids(attachment_ids):
        row = await ctx.db.get(attachment_id)
        if row is None or row["status"] != "attached":
            continue
        entry = {"_id": row["_id"], "fileName": row["fileName"], "mimeType": row["mimeType"], "size": row["size"]}
        url = await ctx.storage.get_url(row["storageId"])
        if url is not None:
            entry["url"] = url
        described.append(entry)
    return described


async def with_attachments(ctx: Any, records: list[Doc]) -> list[Doc]:
    """Each record with ``attachments`` (``[]`` when it has none)."""
    return [{**record, "attachments": await describe(ctx, record.get("attachmentIds"))} for record in records]
