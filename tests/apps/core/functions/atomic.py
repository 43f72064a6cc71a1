"""Mutations that write and then fail in the ways a mutation can fail after writing."""

from runtime import mutation, v


@mutation(returns=v.string())
async def write_then_return_wrong_type(ctx, args):
    """Writes, then returns a number where the validator wants a string."""
    await ctx.db.insert("items", {"a": "written"})
    await ctx.db.insert("fresh_from_returns", {"a": 1})
    return 1.0


@mutation
async def write_then_raise_python_error(ctx, args):
    """Writes, then fails with a plain Python exception (a developer error)."""
    await ctx.db.insert("items", {"a": "written"})
    print("about to fail")
    raise KeyError("missing")
