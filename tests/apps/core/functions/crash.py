"""The write the crash test repeats: two documents in two tables that must appear together."""

from runtime import mutation, v


@mutation(args={"worker": v.int64(), "seq": v.int64()})
async def pair(ctx, args):
    """Insert an indexed ``items`` row and its ``pairs`` partner; returns both ids."""
    item = await ctx.db.insert("items", {"a": args["worker"], "b": args["seq"], "n": {"x": args["seq"]}})
    partner = await ctx.db.insert("pairs", {"worker": args["worker"], "seq": args["seq"], "item": item})
    return [item, partner]
