"""Functions for protocol transcripts: errors of each kind, logs, identity, actions, internals."""

from runtime import ConvexError, action, internal_query, mutation, query, v


@query(args={})
async def fails_with_data(ctx, args):
    """A query failing with ConvexError data (an int64 inside, to check its encoding)."""
    raise ConvexError({"code": "NOPE", "count": 5})


@query(args={})
async def fails(ctx, args):
    """A query failing with a plain error."""
    raise ValueError("boom")


@mutation(args={})
async def mutation_fails(ctx, args):
    """A mutation failing with a plain error after a write, which must not survive."""
    await ctx.db.insert("counters", {"name": "never", "value": 1.0})
    raise ValueError("mutation boom")


@mutation(args={})
async def mutation_fails_with_data(ctx, args):
    """A mutation failing with ConvexError data."""
    raise ConvexError("nope")


@query(args={"text": v.string()})
async def noisy(ctx, args):
    """Logs a line and returns its text."""
    print("saw", args["text"])
    return args["text"]


@query(args={})
async def whoami(ctx, args):
    """The caller's identity, or None."""
    return await ctx.auth.get_user_identity()


@action(args={"value": v.any()})
async def echo(ctx, args):
    """Returns its argument unchanged."""
    print("echoing")
    return args["value"]


@action(args={"name": v.string()})
async def bump_via_action(ctx, args):
    """Bumps a counter through ``ctx.run_mutation``."""
    return await ctx.run_mutation("counters:bump", {"name": args["name"]})


@internal_query(args={})
async def secret(ctx, args):
    """Only admins may call this."""
    return "classified"
