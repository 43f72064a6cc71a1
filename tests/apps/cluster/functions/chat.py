"""Messages written on one server and watched from another."""

from runtime import mutation, query, v


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, args):
    return await ctx.db.insert("messages", {"author": args["author"], "body": args["body"]})


@query(args={})
async def everything(ctx, args):
    return await ctx.db.query("messages").collect()
