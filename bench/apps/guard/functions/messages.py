"""A chat: list every message, send one."""

from runtime import mutation, query, v


@query(args={})
async def list_(ctx, args):
    """Every message, oldest first."""
    return await ctx.db.query("messages").collect()


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, args):
    """Store a message and return its id."""
    return await ctx.db.insert("messages", {"author": args["author"], "body": args["body"]})
