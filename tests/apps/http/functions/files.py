"""Upload URLs and file URLs, for the storage round trip over HTTP."""

from runtime import mutation, query, v


@mutation(args={})
async def upload_url(ctx, args):
    return await ctx.storage.generate_upload_url()


@query(args={"id": v.id("_storage")})
async def url(ctx, args):
    return await ctx.storage.get_url(args["id"])
