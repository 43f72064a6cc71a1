"""The chat example's functions, plus a bounded view that keeps fan-out frames the same size."""

from runtime import mutation, query, v


@query(args={})
async def list_(ctx, args):
    """Every message, oldest first."""
    return await ctx.db.query("messages").collect()


@query(args={"count": v.float64()})
async def latest(ctx, args):
    """The newest ``count`` messages, newest first."""
    return await ctx.db.query("messages").order("desc").take(int(args["count"]))


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, args):
    """Store a message and return its id."""
    return await ctx.db.insert("messages", {"author": args["author"], "body": args["body"]})
