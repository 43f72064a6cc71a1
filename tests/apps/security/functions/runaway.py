"""Functions that never finish on their own: pure computation with no database call to stop at."""

import time

from runtime import action, mutation, query, v


@query(args={})
async def spin(ctx, args):
    """Loop forever."""
    while True:
        pass


@query(args={})
async def spin_catching(ctx, args):
    """Loop forever, swallowing every ordinary exception."""
    while True:
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001 - the point of the test
            pass


@mutation(args={})
async def write_then_spin(ctx, args):
    """Write a note, then loop forever: the write must not survive."""
    await ctx.db.insert("notes", {"owner": "runaway", "text": "half-done"})
    while True:
        pass


@query(args={"ms": v.float64(), "tag": v.optional(v.float64())})
async def burn(ctx, args):
    """Compute for ``ms`` milliseconds of wall time, then return ``tag``: a slow but finite query."""
    until = time.perf_counter() + args["ms"] / 1000
    while time.perf_counter() < until:
        pass
    return args.get("tag")


@action(args={})
async def spin_action(ctx, args):
    """Loop forever in an action, after a query: nothing is awaited while it loops."""
    await ctx.run_query("runaway:burn", {"ms": 1.0})
    while True:
        pass


def _compute(ms: float) -> None:
    until = time.thread_time() + ms / 1000
    while time.thread_time() < until:
        pass


@mutation(args={"ms": v.float64()})
async def write_then_compute(ctx, args):
    """Write a note, then compute for ``ms`` of CPU: past the time limit, the write must not survive."""
    await ctx.db.insert("notes", {"owner": "runaway", "text": "half-done"})
    _compute(args["ms"])
    return "finished"


@query(args={"ms": v.float64()})
async def slow_read(ctx, args):
    """Read the notes, log, compute for ``ms`` of CPU, schedule nothing: slow but finishes."""
    notes = await ctx.db.query("notes").take(5)
    print("read", len(notes))
    _compute(args["ms"])
    return [note["text"] for note in notes]


@mutation(args={"ms": v.float64(), "text": v.string()})
async def slow_write(ctx, args):
    """Read, write, log, compute for ``ms`` of CPU, then schedule a call: slow but finishes."""
    notes = await ctx.db.query("notes").take(3)
    note_id = await ctx.db.insert("notes", {"owner": "slow", "text": args["text"]})
    print("wrote after reading", len(notes))
    _compute(args["ms"])
    await ctx.scheduler.run_after(60_000, "notes:add", {"text": args["text"] + "-later"})
    return {"read": [note["text"] for note in notes], "id_is_string": isinstance(note_id, str)}
