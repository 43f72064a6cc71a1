"""Support attachments: upload URLs and finalizing uploads, for agents and widget visitors.

The client POSTs the file to the URL from ``generateUploadUrl`` and hands the storage id to
``finalizeUpload``, which either stages it (owned by the caller, for one hour) or deletes the file
and answers ``{status: "rejected", message}``. A file can be finalized once only, so nobody can
claim another person's upload by its storage id. A cron job (``functions/crons.py``) runs
``cleanupExpiredStagedUploads``, which deletes the uploads still staged after they expired, and
their files.
"""

from runtime import internal_mutation, mutation, v

from .lib.actors import workspace_actor
from .lib.attachments import normalize_file_name, rejection, stage
from .lib.clock import now_ms
from .lib.errors import NOT_FOUND, fail
from .lib.stored_files import require_unclaimed

CLEANUP_BATCH = 100

_UPLOAD_ARGS = {
    "workspaceId": v.id("workspaces"),
    "visitorId": v.optional(v.id("visitors")),
    "sessionToken": v.optional(v.string()),
}


async def _uploader(ctx, args):
    if await ctx.db.get(args["workspaceId"]) is None:
        fail(NOT_FOUND, "Workspace not found")
    return await workspace_actor(
        ctx, args["workspaceId"], args.get("sessionToken"), args.get("visitorId"), "conversations.reply"
    )


@mutation(args=_UPLOAD_ARGS)
async def generateUploadUrl(ctx, args):
    """A URL to POST one file to (agents with ``conversations.reply``, or the session's visitor)."""
    await _uploader(ctx, args)
    return await ctx.storage.generate_upload_url()


@mutation(args={**_UPLOAD_ARGS, "storageId": v.id("_storage"), "fileName": v.optional(v.string())})
async def finalizeUpload(ctx, args):
    """Stage an uploaded file for the caller, or delete it and say why it is refused."""
    actor = await _uploader(ctx, args)
    file_name = normalize_file_name(args.get("fileName"))
    metadata = await ctx.storage.get_metadata(args["storageId"])
    if metadata is None:
        fail(NOT_FOUND, "Uploaded file not found")
    await require_unclaimed(ctx, args["storageId"])
    refused = rejection(file_name, metadata["size"])
    if refused is not None:
        await ctx.storage.delete(args["storageId"])
        return {"status": "rejected", "message": refused}
    attachment_id = await stage(ctx, args["workspaceId"], actor, args["storageId"], file_name, metadata["size"])
    staged = await ctx.db.get(attachment_id)
    return {
        "status": "staged",
        "attachmentId": attachment_id,
        "fileName": file_name,
        "mimeType": staged["mimeType"],
        "size": metadata["size"],
    }


@internal_mutation(args={"limit": v.optional(v.number())})
async def cleanupExpiredStagedUploads(ctx, args):
    """Delete expired staged uploads and their files, oldest expiry first, a batch at a time.

    A full batch schedules the next one at once, so a backlog drains without one huge transaction.
    """
    limit = int(min(max(args.get("limit", CLEANUP_BATCH), 1), 500))
    now = now_ms()
    expired = await (
        ctx.db.query("supportAttachments")
        .with_index("by_status_expires", lambda q: q.eq("status", "staged").lt("expiresAt", now))
        .take(limit)
    )
    for row in expired:
        if await ctx.storage.get_metadata(row["storageId"]) is not None:
            await ctx.storage.delete(row["storageId"])
        await ctx.db.delete(row["_id"])
    has_more = len(expired) == limit
    if has_more:
        await ctx.scheduler.run_after(0, "supportAttachments:cleanupExpiredStagedUploads", args)
    return {"deleted": float(len(expired)), "hasMore": has_more}
