"""Stored files, to carry them through snapshots."""

from runtime import action, v


@action(args={"text": v.string()})
async def upload(ctx, args):
    """Store ``text`` as a file and return its storage id."""
    return await ctx.storage.store(args["text"].encode(), "text/plain")


@action(args={"id": v.id("_storage")})
async def read(ctx, args):
    """The text of a stored file, or None when there is no such file."""
    data = await ctx.storage.get(args["id"])
    return None if data is None else data.decode()
