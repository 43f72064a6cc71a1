"""Pure computation: a cheap query, and one that burns the CPU for as long as asked."""

import time

from runtime import query, v


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
