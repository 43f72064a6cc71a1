"""Action fixtures: actions that run queries and mutations, fail, catch, sleep and call internals."""

import asyncio

from runtime import ConvexError, action, internal_action, internal_mutation, internal_query, mutation, query, v


@internal_mutation(args={"label": v.string()})
async def add(ctx, args):
    """One row in "log"; returns its id."""
    return await ctx.db.insert("log", {"label": args["label"]})


@query(args={})
async def labels(ctx, args):
    """Every label, oldest first."""
    return [row["label"] for row in await ctx.db.query("log").collect()]


@internal_query(args={})
async def secret_count(ctx, args):
    """Only functions and admins may call this."""
    return len(await ctx.db.query("log").collect())


@mutation(args={})
async def fail_with_data(ctx, args):
    """Writes, then throws an application error carrying data."""
    await ctx.db.insert("log", {"label": "rolled back"})
    raise ConvexError({"code": "E42", "detail": [1, 2.5]})


@mutation(args={})
async def fail_plain(ctx, args):
    """Throws a developer error."""
    raise ValueError("plain failure")


@action(args={"label": v.string()})
async def add_then_throw(ctx, args):
    """The mutation committed before the throw stays committed."""
    await ctx.run_mutation(add, {"label": args["label"]})
    raise RuntimeError("the action failed afterwards")


@action(args={})
async def add_and_count(ctx, args):
    """Each run_mutation is committed when it returns: the following query sees it."""
    counts = []
    for label in ("a", "b"):
        await ctx.run_mutation("steps:add", {"label": label})
        counts.append(await ctx.run_query("steps:secret_count"))
    return counts


@action(args={})
async def catch_convex_error(ctx, args):
    """A nested ConvexError arrives with its data and can be caught."""
    try:
        await ctx.run_mutation(fail_with_data)
    except ConvexError as error:
        return {"caught": error.data}
    return "not raised"


@action(args={})
async def rethrow_convex_error(ctx, args):
    """A nested ConvexError left uncaught reaches the caller with its data."""
    await ctx.run_mutation(fail_with_data)


@action(args={})
async def catch_plain_error(ctx, args):
    """A nested developer error can be caught; its message survives."""
    try:
        await ctx.run_mutation(fail_plain)
    except Exception as error:  # noqa: BLE001
        return str(error)
    return "not raised"


@action(args={"ms": v.float64()})
async def sleep(ctx, args):
    """Really suspends."""
    await asyncio.sleep(args["ms"] / 1000)
    return "slept"


@action(args={"count": v.float64()})
async def concurrent_adds(ctx, args):
    """Mutations awaited together: each commits on its own."""
    ids = await asyncio.gather(*(ctx.run_mutation(add, {"label": f"c{n}"}) for n in range(int(args["count"]))))
    return len(set(ids))


@action(args={})
async def nested_action(ctx, args):
    """An action calling an internal action."""
    return await ctx.run_action(hidden, {"value": "from inside"})


@internal_action(args={"value": v.string()})
async def hidden(ctx, args):
    """Internal: callable from functions (and admins) only."""
    await asyncio.sleep(0)
    return {"hidden": args["value"], "count": await ctx.run_query(secret_count)}


@action(args={})
async def wrong_kind(ctx, args):
    """run_query on a mutation is refused."""
    return await ctx.run_query(add, {"label": "x"})


@action(args={})
async def has_db(ctx, args):
    """Actions have no ctx.db."""
    return hasattr(ctx, "db")
