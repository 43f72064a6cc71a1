"""``ctx.db`` calls awaited together (``asyncio.gather``, ``create_task``): Python's ``Promise.all``."""

import asyncio

from runtime import mutation, query


@query
async def get_all(ctx, args):
    """Every id in ``ids`` fetched at once; results in request order."""
    return await asyncio.gather(*(ctx.db.get(doc_id) for doc_id in args["ids"]))


@query
async def terminals(ctx, args):
    """Several query terminals of ``items`` at once, as ``[collect, first, take(2), unique-by-a]``."""
    items = ctx.db.query("items")
    return await asyncio.gather(
        items.order("desc").collect(),
        items.first(),
        items.take(2),
        items.with_index("by_a", lambda q: q.eq("a", args["a"])).unique(),
    )


@query
async def tasks(ctx, args):
    """Reads started as tasks and awaited in the opposite order."""
    first = asyncio.create_task(ctx.db.get(args["ids"][0]))
    second = asyncio.create_task(ctx.db.get(args["ids"][1]))
    return [await second, await first]


@mutation
async def insert_all(ctx, args):
    """Inserts every value of ``values`` at once into ``items``; returns the new ids in order."""
    return await asyncio.gather(*(ctx.db.insert("items", value) for value in args["values"]))


@query
async def sleeps_in_gather(ctx, args):
    """A timer among the reads: still refused, as any wait in a query."""
    await asyncio.gather(ctx.db.query("items").first(), asyncio.sleep(0.01))


@query
async def forgets_a_failed_task(ctx, args):
    """Starts a read of an invalid id, lets it run, and never looks at its outcome."""
    asyncio.create_task(ctx.db.get("nonsense"))
    await asyncio.sleep(0)
    return "finished"


@mutation
async def leaves_a_task_unstarted(ctx, args):
    """Schedules an insert and returns before it ever runs."""
    asyncio.create_task(ctx.db.insert("items", {"a": "late"}))
    return "finished"
