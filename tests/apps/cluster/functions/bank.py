"""Transfers between accounts: the serializability workload, spread over several servers."""

from runtime import mutation, query, v


@mutation(args={"name": v.string(), "balance": v.float64()})
async def open_account(ctx, args):
    return await ctx.db.insert("accounts", {"name": args["name"], "balance": args["balance"]})


@mutation(args={"source": v.id("accounts"), "target": v.id("accounts"), "amount": v.float64()})
async def transfer(ctx, args):
    """Move ``amount`` if the source can afford it; returns whether it moved and both balances seen."""
    source = await ctx.db.get(args["source"])
    target = await ctx.db.get(args["target"])
    if source["balance"] < args["amount"]:
        return {"moved": False, "seen": [source["balance"], target["balance"]]}
    await ctx.db.patch(source["_id"], {"balance": source["balance"] - args["amount"]})
    target = await ctx.db.get(args["target"])  # the source may be the target
    await ctx.db.patch(target["_id"], {"balance": target["balance"] + args["amount"]})
    return {"moved": True, "seen": [source["balance"], target["balance"]]}


@query(args={})
async def balances(ctx, args):
    return {account["name"]: account["balance"] for account in await ctx.db.query("accounts").collect()}
