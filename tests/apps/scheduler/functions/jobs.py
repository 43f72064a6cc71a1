"""Scheduling fixtures: jobs leave "effects" rows behind, so tests can count what ran and in which order."""

import asyncio

from runtime import ConvexError, action, internal_action, internal_mutation, mutation, query, v


@internal_mutation(args={"tag": v.string()})
async def record(ctx, args):
    """The side effect every job leaves: one row per run."""
    await ctx.db.insert("effects", {"tag": args["tag"]})


@internal_mutation(args={"tag": v.string()})
async def record_then_fail(ctx, args):
    """Writes, then throws: the write must not survive."""
    await ctx.db.insert("effects", {"tag": args["tag"]})
    raise ValueError(f"boom {args['tag']}")


@internal_mutation(args={})
async def record_identity(ctx, args):
    """Records whether the job ran with an identity."""
    await ctx.db.insert("effects", {"tag": repr(await ctx.auth.get_user_identity())})


@internal_mutation(args={})
async def record_own_state(ctx, args):
    """Records the state of its own job as the running mutation sees it."""
    jobs = await ctx.db.system.query("_scheduled_functions").collect()
    mine = [job for job in jobs if job["name"] == "jobs.js:record_own_state"]
    await ctx.db.insert("effects", {"tag": mine[0]["state"]["kind"]})


@internal_mutation(args={})
async def cancel_self(ctx, args):
    """Tries to cancel the job it runs as."""
    jobs = await ctx.db.system.query("_scheduled_functions").collect()
    mine = [job for job in jobs if job["name"] == "jobs.js:cancel_self"]
    await ctx.scheduler.cancel(mine[0]["_id"])


@mutation(args={"delay": v.float64(), "tag": v.string(), "fn": v.optional(v.string())})
async def schedule(ctx, args):
    """Schedule ``fn`` (default: record) after ``delay`` ms; returns the job id."""
    return await ctx.scheduler.run_after(args["delay"], args.get("fn", "jobs:record"), {"tag": args["tag"]})


@mutation(args={"at": v.float64(), "tag": v.string()})
async def schedule_at(ctx, args):
    """Schedule ``record`` at an absolute time, passing the function object itself."""
    return await ctx.scheduler.run_at(args["at"], record, {"tag": args["tag"]})


@mutation(args={"fn": v.string(), "args": v.optional(v.any())})
async def schedule_path(ctx, args):
    """Schedule any path with any arguments, right away."""
    return await ctx.scheduler.run_after(0, args["fn"], args.get("args"))


@mutation(args={"delays": v.array(v.float64())})
async def schedule_each(ctx, args):
    """One ``record`` per delay, tagged with its position."""
    return [await ctx.scheduler.run_after(delay, record, {"tag": str(n)}) for n, delay in enumerate(args["delays"])]


@mutation(args={"count": v.float64(), "spacing": v.float64()})
async def schedule_many(ctx, args):
    """``count`` records, ``spacing`` ms apart."""
    for n in range(int(args["count"])):
        await ctx.scheduler.run_after(n * args["spacing"], record, {"tag": str(n)})


@mutation(args={"tag": v.string()})
async def schedule_then_fail(ctx, args):
    """Schedules, then throws: nothing may be scheduled."""
    await ctx.scheduler.run_after(0, record, {"tag": args["tag"]})
    raise ConvexError("changed my mind")


@mutation(args={"tag": v.string()})
async def schedule_and_read(ctx, args):
    """The job row as the scheduling mutation sees it."""
    job_id = await ctx.scheduler.run_after(0, record, {"tag": args["tag"]})
    return await ctx.db.system.get(job_id)


@mutation(args={"count": v.float64(), "size": v.float64()})
async def schedule_sized(ctx, args):
    """``count`` jobs whose arguments are ``size`` characters each."""
    for _ in range(int(args["count"])):
        await ctx.scheduler.run_after(60_000, record, {"tag": "x" * int(args["size"])})


@mutation(args={"id": v.string()})
async def cancel(ctx, args):
    """Cancel a job."""
    await ctx.scheduler.cancel(args["id"])


@query(args={"id": v.id("_scheduled_functions")})
async def job(ctx, args):
    """One job row, or None."""
    return await ctx.db.system.get(args["id"])


@query(args={})
async def jobs(ctx, args):
    """Every job row, oldest first."""
    return await ctx.db.system.query("_scheduled_functions").collect()


@query(args={})
async def effects(ctx, args):
    """The tag of every effect, in the order they were written."""
    return [row["tag"] for row in await ctx.db.query("effects").collect()]


@query(args={})
async def a_query(ctx, args):
    """Not schedulable: a job targeting it fails when it runs."""


@internal_action(args={"tag": v.string()})
async def act(ctx, args):
    """An action job: really awaits, then records through a mutation."""
    await asyncio.sleep(0.001)
    await ctx.run_mutation(record, {"tag": args["tag"]})


@internal_action(args={"tag": v.string()})
async def act_and_fail(ctx, args):
    """An action job that records, then throws."""
    await ctx.run_mutation(record, {"tag": args["tag"]})
    raise ConvexError({"code": "nope"})


@internal_action(args={"tag": v.string()})
async def act_then_hang(ctx, args):
    """Records that it started, then never finishes (until its process dies)."""
    await ctx.run_mutation(record, {"tag": args["tag"]})
    await asyncio.sleep(3600)


@internal_action(args={"tag": v.string()})
async def act_gated(ctx, args):
    """Records "started", waits for a "go" effect, then schedules a child (directly and via a mutation)."""
    await ctx.run_mutation(record, {"tag": "started"})
    while "go" not in await ctx.run_query(effects, {}):
        await asyncio.sleep(0.005)
    direct = await ctx.scheduler.run_after(0, record, {"tag": "child"})
    nested = await ctx.run_mutation(schedule, {"delay": 0.0, "tag": "nested child"})
    await ctx.run_mutation(record, {"tag": "finished"})
    return [direct, nested]


@action(args={"tag": v.string()})
async def schedule_from_action(ctx, args):
    """Schedules (committed at once), then throws: the job must still run."""
    job_id = await ctx.scheduler.run_after(0, record, {"tag": args["tag"]})
    raise ConvexError({"scheduled": job_id})


@action(args={"id": v.string()})
async def cancel_from_action(ctx, args):
    """Cancels a job from an action."""
    await ctx.scheduler.cancel(args["id"])
