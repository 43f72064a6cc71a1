"""Named counters: two counters bumped together always agree in any consistent view."""

import time

from runtime import mutation, query, v


async def _find(ctx, name):
    return await ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", name)).unique()


@query(args={"name": v.string()})
async def get(ctx, args):
    """The counter's value (0 before its first bump)."""
    found = await _find(ctx, args["name"])
    return found["value"] if found else 0.0


@query(args={"name": v.string(), "size": v.float64()})
async def padded(ctx, args):
    """The counter's value beside ``size`` bytes of padding: a large result for slow-reader tests."""
    found = await _find(ctx, args["name"])
    return {"value": found["value"] if found else 0.0, "padding": "x" * int(args["size"])}


async def _bump(ctx, name, by):
    found = await _find(ctx, name)
    if found is None:
        await ctx.db.insert("counters", {"name": name, "value": by})
        return by
    await ctx.db.patch(found["_id"], {"value": found["value"] + by})
    return found["value"] + by


@mutation(args={"name": v.string(), "by": v.optional(v.float64())})
async def bump(ctx, args):
    """Add ``by`` (default 1) to the counter; returns the new value."""
    return await _bump(ctx, args["name"], args.get("by", 1.0))


@mutation(args={"first": v.string(), "second": v.string()})
async def bump_pair(ctx, args):
    """Add 1 to two counters in one transaction."""
    await _bump(ctx, args["first"], 1.0)
    await _bump(ctx, args["second"], 1.0)


@query(args={"name": v.string(), "variant": v.float64(), "milliseconds": v.float64()})
async def slow(ctx, args):
    """The counter's value after ``milliseconds`` of busy work: a re-run that takes a while.

    ``variant`` only makes otherwise identical subscriptions distinct, so each runs on its own.
    """
    found = await _find(ctx, args["name"])
    until = time.perf_counter() + args["milliseconds"] / 1000.0
    while time.perf_counter() < until:
        pass
    return found["value"] if found else 0.0
