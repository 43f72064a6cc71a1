"""Pure computation: a cheap query and mutation, and ones that burn the CPU for as long as asked."""

import time

from runtime import mutation, query, v


@query(args={})
async def ping(ctx, args):
    """Nothing: the cheapest query there is."""
    return "pong"


@query(args={"ms": v.float64()})
async def burn(ctx, args):
    """Compute for ``ms`` milliseconds of CPU time without touching the database."""
    until = time.thread_time() + args["ms"] / 1000
    while time.thread_time() < until:
        pass
    return args["ms"]


@mutation(args={})
async def tick(ctx, args):
    """A cheap mutation: one insert."""
    return await ctx.db.insert("ticks", {"n": 1})


@mutation(args={"ms": v.float64()})
async def burn_write(ctx, args):
    """Compute for ``ms`` milliseconds of CPU time, then write: past the time limit, nothing is written."""
    until = time.thread_time() + args["ms"] / 1000
    while time.thread_time() < until:
        pass
    return await ctx.db.insert("burns", {"ms": args["ms"]})
