"""Chat messages: list them (oldest first), send one, count them, and an internal wipe."""

from runtime import internal_mutation, mutation, query, v


@query(args={})
async def list_(ctx, args):
    """Every message, oldest first."""
    return await ctx.db.query("messages").collect()


@mutation(args={"author": v.string(), "body": v.string()})
async def send(ctx, args):
    """Store a message and return its id (and log it, so the logs stream has something to show)."""
    print(f"sending {args['body']}")
    return await ctx.db.insert("messages", {"author": args["author"], "body": args["body"]})


@internal_mutation(args={})
async def wipe(ctx, args):
    """Delete every message; internal, so only an admin may call it."""
    for message in await ctx.db.query("messages").collect():
        await ctx.db.delete(message["_id"])
