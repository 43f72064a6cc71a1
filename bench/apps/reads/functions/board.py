"""A read-heavy board: every viewer's own summary of all items, changed by every write."""

from runtime import mutation, query, v


@mutation(args={"count": v.float64()})
async def seed(ctx, args):
    """Insert ``count`` items."""
    for number in range(int(args["count"])):
        await ctx.db.insert("items", {"number": float(number), "score": 0.0, "label": f"item {number}"})


@mutation(args={"number": v.float64()})
async def bump(ctx, args):
    """Raise the score of one item: every summary reads it, so every subscription runs again."""
    item = await ctx.db.query("items").filter(lambda q: q.eq(q.field("number"), args["number"])).first()
    if item is not None:
        await ctx.db.patch(item["_id"], {"score": item["score"] + 1.0})


@query(args={"viewer": v.float64()})
async def summary(ctx, args):
    """``viewer``'s ranking of every item and their total score: distinct per viewer, changed by every bump."""
    items = await ctx.db.query("items").collect()
    spread = args["viewer"] + 1.0
    ranked = sorted(items, key=lambda item: (-item["score"], (item["number"] * spread) % 101.0))
    top = [{"label": item["label"], "score": item["score"]} for item in ranked[:20]]
    return {"total": sum(item["score"] for item in items), "top": top}
