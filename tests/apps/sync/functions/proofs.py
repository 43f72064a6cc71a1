"""Connection proofs (``ctx.connection``): a mutation proving a ticket, queries asking what was proven."""

from runtime import ConvexError, mutation, query, v


@mutation(args={"ticket": v.string(), "fail": v.optional(v.boolean())})
async def prove(ctx, args):
    """Prove ``("ticket", ticket)``; with ``fail`` the mutation raises afterwards, so nothing is kept."""
    ctx.connection.prove("ticket", args["ticket"])
    if args.get("fail"):
        raise ConvexError("refused after proving")
    return ctx.connection.client_address


@mutation(args={})
async def nested_failure(ctx, args):
    """Prove "outer", then run a nested mutation that proves "inner" and raises (caught here)."""
    ctx.connection.prove("ticket", "outer")
    try:
        await ctx.run_mutation("proofs:prove", {"ticket": "inner", "fail": True})
    except ConvexError:
        pass
    return ctx.connection.proven("ticket")


@query(args={})
async def proven(ctx, args):
    """Every ticket this connection proved."""
    return ctx.connection.proven("ticket")


@query(args={"ticket": v.string()})
async def has(ctx, args):
    """Whether this connection proved ``ticket``."""
    return ctx.connection.has_proven("ticket", args["ticket"])
