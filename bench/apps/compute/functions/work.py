"""Pure computation: a cheap query and mutation, ones that burn the CPU for as long as asked, and a
subscribed query that does so once poked."""

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


@mutation(args={})
async def poke(ctx, args):
    """Insert a row into ``pokes``: every subscription to ``burn_once_poked`` runs again."""
    await ctx.db.insert("pokes", {"at": time.time()})


@query(args={"ms": v.float64()})
async def burn_once_poked(ctx, args):
    """Nothing until a poke exists, then ``burn``'s computation: a subscribed query that runs away later.

    It reads every poke, so that each new one runs it again.
    """
    if not await ctx.db.query("pokes").collect():
        return 0.0
    until = time.thread_time() + args["ms"] / 1000
    while time.thread_time() < until:
        pass
    return args["ms"]
