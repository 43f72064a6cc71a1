"""A counter the HTTP routes change through a mutation."""

from runtime import internal_mutation, query, v


@internal_mutation(args={"by": v.float64()})
async def bump(ctx, args):
    current = await ctx.db.query("counters").first()
    if current is None:
        await ctx.db.insert("counters", {"value": args["by"]})
        return args["by"]
    await ctx.db.patch(current["_id"], {"value": current["value"] + args["by"]})
    return current["value"] + args["by"]


@query(args={})
async def get(ctx, args):
    current = await ctx.db.query("counters").first()
    return None if current is None else current["value"]
