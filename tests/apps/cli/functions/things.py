"""Arbitrary values, to round-trip exotic ones (int64, bytes, NaN, -0.0) through snapshots."""

from runtime import action, mutation, query, v


@query(args={})
async def list_(ctx, args):
    """Every thing, oldest first."""
    return await ctx.db.query("things").collect()


@mutation(args={"value": v.any()})
async def add(ctx, args):
    """Store one value and return its document's id."""
    return await ctx.db.insert("things", {"value": args["value"]})


@query(args={})
async def whoami(ctx, args):
    """The caller's identity (None when anonymous)."""
    return await ctx.auth.get_user_identity()


@query(args={"name": v.string()})
async def env(ctx, args):
    """An environment variable's value, or None."""
    return ctx.env.get(args["name"])


@action(args={"n": v.int64()})
async def double(ctx, args):
    """An action, so `run` is exercised on every kind."""
    return args["n"] * 2
