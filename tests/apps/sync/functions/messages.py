"""Messages per channel: an indexed list, a paginated list, a point read, and writes."""

from runtime import ConvexError, mutation, query, v


@query(args={"channel": v.string()})
async def list_(ctx, args):
    """The channel's messages, oldest first (reads only the channel's slice of ``by_channel``)."""
    rows = await ctx.db.query("messages").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).collect()
    return [row["body"] for row in rows]


@query(args={"channel": v.string(), "paginationOpts": v.any()})
async def page(ctx, args):
    """One page of the channel's messages, oldest first."""
    result = await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda q: q.eq("channel", args["channel"]))
        .paginate(args["paginationOpts"])
    )
    return {**result, "page": [row["body"] for row in result["page"]]}


@query(args={"id": v.string()})
async def body(ctx, args):
    """The body of one message; a ConvexError while it does not exist."""
    document = await ctx.db.get(args["id"])
    if document is None:
        raise ConvexError({"code": "MISSING"})
    return document["body"]


@mutation(args={"channel": v.string(), "body": v.string()})
async def send(ctx, args):
    """Append a message; returns its id."""
    return await ctx.db.insert("messages", {"channel": args["channel"], "body": args["body"]})


@mutation(args={"id": v.string(), "body": v.string()})
async def edit(ctx, args):
    """Replace a message's body."""
    await ctx.db.patch(args["id"], {"body": args["body"]})


@mutation(args={"id": v.string()})
async def remove(ctx, args):
    """Delete a message."""
    await ctx.db.delete(args["id"])
