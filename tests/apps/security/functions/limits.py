"""Argument and result sizes, and the system tables functions may (not) read."""

from runtime import query, v


@query(args={"text": v.string()})
async def echo(ctx, args):
    """Returns its argument."""
    return args["text"]


@query(args={"size": v.float64()})
async def sized(ctx, args):
    """A string result of ``size`` bytes."""
    return "x" * int(args["size"])


@query(args={"table": v.string()})
async def system_rows(ctx, args):
    """Every row of a system table, through ctx.db.system."""
    return await ctx.db.system.query(args["table"]).collect()


@query(args={"id": v.string()})
async def system_get(ctx, args):
    """One system document by id, through ctx.db.system."""
    return await ctx.db.system.get(args["id"])
