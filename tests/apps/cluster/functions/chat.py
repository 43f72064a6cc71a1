"""Messages written on one server and watched from another."""

from runtime import ConvexError, mutation, query, v


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, args):
    return await ctx.db.insert("messages", {"author": args["author"], "body": args["body"]})


@query(args={})
async def everything(ctx, args):
    return await ctx.db.query("messages").collect()


@mutation(args={"body": v.string()})
async def send_then_fail(ctx, args):
    """Writes, then fails: nothing of it is committed."""
    await ctx.db.insert("messages", {"author": "nobody", "body": args["body"]})
    raise ConvexError("refused")


@mutation(args={})
async def count(ctx, args):
    """A mutation that only reads."""
    return len(await ctx.db.query("messages").collect())
