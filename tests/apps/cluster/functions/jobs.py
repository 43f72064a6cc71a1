"""Scheduled jobs that record each run, to count how often each ran across the cluster."""

from runtime import internal_mutation, mutation, query, v


@internal_mutation(args={"job": v.float64()})
async def run(ctx, args):
    await ctx.db.insert("runs", {"job": args["job"]})


@mutation(args={"first": v.float64(), "count": v.float64(), "delay_ms": v.float64()})
async def schedule(ctx, args):
    """Schedule jobs ``first`` … ``first + count - 1``, due after ``delay_ms``."""
    for job in range(int(args["first"]), int(args["first"] + args["count"])):
        await ctx.scheduler.run_after(args["delay_ms"], "jobs:run", {"job": float(job)})


@query(args={})
async def runs(ctx, args):
    return [run["job"] for run in await ctx.db.query("runs").collect()]
