"""Accounts and transfers: the workload of the serializability test."""

from runtime import mutation, query, v


@mutation(args={"name": v.string(), "balance": v.int64()})
async def open_account(ctx, args):
    """Create an account with an opening balance; returns its id."""
    return await ctx.db.insert("accounts", {"name": args["name"], "balance": args["balance"]})


@mutation(args={"source": v.id("accounts"), "target": v.id("accounts"), "amount": v.int64()})
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


async def _balances(ctx):
    return {account["name"]: account["balance"] for account in await ctx.db.query("accounts").collect()}


@mutation(args={})
async def audit(ctx, args):
    """Every balance, read inside a mutation."""
    return await _balances(ctx)


@query(args={})
async def balances(ctx, args):
    """Every balance, read by a query."""
    return await _balances(ctx)
