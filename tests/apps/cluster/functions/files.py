"""Files stored through one server and read through another."""

from runtime import action, mutation, query, v


@action(args={"text": v.string()})
async def store_text(ctx, args):
    return await ctx.storage.store(args["text"].encode(), "text/plain")


@query(args={"id": v.id("_storage")})
async def url(ctx, args):
    return await ctx.storage.get_url(args["id"])


@mutation(args={"id": v.id("_storage")})
async def delete(ctx, args):
    await ctx.storage.delete(args["id"])
