"""Functions that misuse the API, for the bad-input tests; each must fail with a clear error."""

import asyncio

from runtime import mutation, query, v


@mutation(args={"name": v.string(), "count": v.int64(), "account": v.optional(v.id("accounts"))})
async def typed(ctx, args):
    """A mutation with validated arguments that writes only when they pass."""
    return await ctx.db.insert("notes", {"text": args["name"]})


@query
async def query_inserts(ctx, args):
    """Tries to write from a query."""
    return await ctx.db.insert("items", {"a": 1})


@query
async def query_runs_mutation(ctx, args):
    """Tries to run a mutation from a query."""
    return await ctx.run_mutation("db:apply", {"steps": [{"op": "insert", "table": "items", "value": {}}]})


@mutation
async def runs_query_as_mutation(ctx, args):
    """Calls a query through run_mutation."""
    return await ctx.run_mutation("misc:shout", {"text": "x"})


@query
async def reuse_range_builder(ctx, args):
    """Calls a method on an index range builder that was already chained."""

    def bounds(q):
        q.eq("a", 1)
        return q.eq("a", 2)

    return await ctx.db.query("items").with_index("by_a", bounds).collect()


@query
async def two_paginates(ctx, args):
    """Runs two paginated queries in one execution."""
    opts = {"numItems": 1, "cursor": None}
    await ctx.db.query("items").paginate(opts)
    return await ctx.db.query("notes").paginate(opts)


@query
async def sleeps(ctx, args):
    """Suspends inside a query."""
    await asyncio.sleep(0.01)


@query
async def reuses_query(ctx, args):
    """Consumes a query object twice (``db.query(table)`` itself may be reused, as in Convex)."""
    items = ctx.db.query("items").order("asc")
    await items.collect()
    return await items.collect()


@query
async def iterates_twice(ctx, args):
    """Starts iterating a query while an iteration of it is under way."""
    items = ctx.db.query("items").order("asc")
    async for _ in items:
        break
    return await items.collect()


@query
async def reuses_taken_query(ctx, args):
    """Collects a query that ``first()`` already took over."""
    items = ctx.db.query("items").order("asc")
    await items.first()
    return await items.collect()


@query
async def chains_twice(ctx, args):
    """Chains two operators onto the same query object."""
    items = ctx.db.query("items").filter(lambda q: True)
    items.order("desc")
    return await items.order("asc").collect()


@query
async def returns_query(ctx, args):
    """Returns the query instead of its results."""
    return ctx.db.query("items")


@query
async def system_table_from_db(ctx, args):
    """Queries a system table through ``ctx.db`` instead of ``ctx.db.system``."""
    return await ctx.db.query("_storage").collect()


@query
async def user_table_from_system(ctx, args):
    """Queries a user table through ``ctx.db.system``."""
    return await ctx.db.system.query("items").collect()
