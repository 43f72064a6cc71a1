"""Documents addressed by name: a subscription to one name must not be disturbed by writes to others."""

from runtime import mutation, query, v


@query(args={"name": v.string()})
async def get(ctx, args):
    """The value stored under ``name``, or null."""
    row = await ctx.db.query("docs").with_index("by_name", lambda q: q.eq("name", args["name"])).unique()
    return None if row is None else row["value"]


@mutation(args={"name": v.string(), "value": v.float64()})
async def put(ctx, args):
    """Insert a document named ``name`` holding ``value``."""
    return await ctx.db.insert("docs", {"name": args["name"], "value": args["value"]})
