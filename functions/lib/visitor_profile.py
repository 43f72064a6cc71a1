"""Writing what a widget tells us about its visitor: profile fields and the readable label.

``boot`` and ``identify`` both apply "every provided non-empty field"; an empty string or an
empty object never erases what is stored.
"""

from typing import Any

from .identity import Doc
from .readable_ids import readable_id

PROFILE_FIELDS = ("email", "name", "externalUserId", "location", "device", "referrer", "currentUrl")


def is_empty(value: Any) -> bool:
    """Absent, null, "" or an empty object/array: a value that does not overwrite stored data."""
    return value is None or value == "" or value == {} or value == []


def provided_profile(args: dict[str, Any]) -> dict[str, Any]:
    """The non-empty profile fields among ``args``."""
    return {name: args[name] for name in PROFILE_FIELDS if not is_empty(args.get(name))}


async def ensure_readable_id(ctx: Any, visitor: Doc) -> Doc:
    """Store the visitor's readable label if it has none; returns the (possibly updated) document."""
    if visitor.get("readableId"):
        return visitor
    label = readable_id(visitor["_id"])
    await ctx.db.patch(visitor["_id"], {"readableId": label})
    return {**visitor, "readableId": label}
