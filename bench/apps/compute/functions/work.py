"""Pure computation: a cheap query, one that burns the CPU for as long as asked, and one that does so once poked."""

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
