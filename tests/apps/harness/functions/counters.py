"""Counters bumped by scheduled functions and a cron, to watch what the clock runs."""

from runtime import internal_mutation, mutation, query, v


async def _bump(ctx, name):
    row = await ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", name)).unique()
    if row is None:
        await ctx.db.insert("counters", {"name": name, "value": 1.0})
    else:
        await ctx.db.patch(row["_id"], {"value": row["value"] + 1})


@internal_mutation(args={"name": v.string()})
async def bump(ctx, args):
    await _bump(ctx, args["name"])


@mutation(args={"name": v.string(), "delaySeconds": v.number()})
async def bump_later(ctx, args):
    return await ctx.scheduler.run_after(args["delaySeconds"] * 1000, "counters:bump", {"name": args["name"]})


@internal_mutation(args={"name": v.string(), "remaining": v.number()})
async def chain(ctx, args):
    """Bump, then schedule the next link a minute later until ``remaining`` runs out (-1: forever)."""
    await _bump(ctx, args["name"])
    if args["remaining"] != 0:
        await ctx.scheduler.run_after(
            60_000, "counters:chain", {"name": args["name"], "remaining": args["remaining"] - 1}
        )


@query(args={"name": v.string()})
async def get(ctx, args):
    row = await ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", args["name"])).unique()
    return 0.0 if row is None else row["value"]


@query
async def env(ctx, args):
    return ctx.env.get("GREETING")
