"""Which record holds an uploaded file, so a storage id can be claimed by one record only.

A storage id is visible to whoever sees the record that holds it (a logo's URL, an attachment's
link), and every claim path — an article image, a support attachment, a messenger logo — lets its
caller delete the file later. Checking all of them in one place means nobody can adopt (and then
delete) another workspace's file by naming its id on a different path.
"""

from typing import Any

from .errors import NOT_AUTHORIZED, fail

# (table, index on the storage id, field holding it) for every table that keeps uploaded files.
_HOLDERS = (
    ("articleAssets", "by_storage", "storageId"),
    ("supportAttachments", "by_storage", "storageId"),
    ("messengerSettings", "by_logo_storage", "logoStorageId"),
)


async def require_unclaimed(ctx: Any, storage_id: str, keep: str | None = None) -> None:
    """Refuse ``storage_id`` if a record other than ``keep`` (a document id) already holds it.

    The refusal is the same whatever holds the file, so it tells a stranger nothing about it.
    """
    for table, index, field in _HOLDERS:
        holders = ctx.db.query(table).with_index(index, lambda q, f=field: q.eq(f, storage_id))
        if any(holder["_id"] != keep for holder in await holders.take(2)):
            fail(NOT_AUTHORIZED, "Uploaded file is already in use")
