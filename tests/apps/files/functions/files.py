"""File storage fixtures: every ctx.storage method, from the kinds of function that may call it."""

from runtime import action, mutation, query, v


@action(args={"text": v.string(), "contentType": v.optional(v.string())})
async def store_text(ctx, args):
    """Store ``text`` as a file; returns its storage id."""
    return await ctx.storage.store(args["text"].encode(), args.get("contentType"))


@action(args={"id": v.id("_storage")})
async def read(ctx, args):
    """The file's bytes, or None."""
    return await ctx.storage.get(args["id"])


@action(args={"id": v.id("_storage")})
async def describe_from_action(ctx, args):
    """URL and metadata as an action sees them."""
    return {"url": await ctx.storage.get_url(args["id"]), "metadata": await ctx.storage.get_metadata(args["id"])}


@action(args={"id": v.id("_storage")})
async def delete_from_action(ctx, args):
    """Delete, committed at once."""
    await ctx.storage.delete(args["id"])


@query(args={"id": v.id("_storage")})
async def url(ctx, args):
    """The file's URL, or None."""
    return await ctx.storage.get_url(args["id"])


@query(args={"id": v.id("_storage")})
async def metadata(ctx, args):
    """``ctx.storage.get_metadata``."""
    return await ctx.storage.get_metadata(args["id"])


@query(args={"id": v.id("_storage")})
async def row(ctx, args):
    """The file's ``_storage`` row."""
    return await ctx.db.system.get(args["id"])


@mutation(args={})
async def upload_url(ctx, args):
    """A URL to POST a file to."""
    return await ctx.storage.generate_upload_url()


@mutation(args={"id": v.id("_storage")})
async def delete(ctx, args):
    """Delete a file; returns what get_url says afterwards, inside the same mutation."""
    await ctx.storage.delete(args["id"])
    return await ctx.storage.get_url(args["id"])


@mutation(args={"id": v.id("_storage")})
async def delete_then_fail(ctx, args):
    """Deletes, then throws: the file must survive."""
    await ctx.storage.delete(args["id"])
    raise ValueError("changed my mind")
