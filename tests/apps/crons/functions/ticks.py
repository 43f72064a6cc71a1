"""Targets of the cron fixture: every run leaves a ``ticks`` row, so tests count what ran."""

import asyncio

from runtime import internal_action, internal_mutation, query


@internal_mutation
async def record(ctx, args):
    await ctx.db.insert("ticks", {"tag": args["tag"]})


@internal_mutation
async def flaky(ctx, args):
    """Fails while a ``failNext`` row exists (consuming it would be rolled back, so tests delete it)."""
    if await ctx.db.query("switches").first() is not None:
        await ctx.db.insert("ticks", {"tag": "never-committed"})
        raise ValueError("the flaky cron failed")
    await ctx.db.insert("ticks", {"tag": "flaky"})


@internal_mutation
async def set_failing(ctx, args):
    for row in await ctx.db.query("switches").collect():
        await ctx.db.delete(row["_id"])
    if args["failing"]:
        await ctx.db.insert("switches", {"on": True})


@internal_action
async def ping(ctx, args):
    await ctx.run_mutation("ticks:record", {"tag": "from-action"})
    return "pong"


@internal_action
async def wait_for_hourly(ctx, args):
    """Started before the hourly mutation tick, and done only once that tick ran (bounded wait)."""
    for _ in range(400):
        if "hourly" in await ctx.run_query("ticks:tags"):
            await ctx.run_mutation("ticks:record", {"tag": "saw hourly"})
            return
        await asyncio.sleep(0.025)
    await ctx.run_mutation("ticks:record", {"tag": "gave up"})


@query
async def tags(ctx, args):
    return [row["tag"] for row in await ctx.db.query("ticks").collect()]
