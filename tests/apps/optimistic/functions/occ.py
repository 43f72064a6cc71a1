"""Mutations slow enough to leave the writer (``knobs.LOOP_CPU_BUDGET_S``), and short ones to race them."""

import threading
import time

from runtime import mutation, query, v

# A slow increment that has read its counter waits here until the test lets it write (``gate``).
READ_DONE = threading.Event()
PROCEED = threading.Event()


def _compute(ms: float) -> None:
    until = time.thread_time() + ms / 1000
    while time.thread_time() < until:
        pass


@mutation(args={"value": v.int64()})
async def create(ctx, args):
    """A counter at ``value``; returns its id."""
    return await ctx.db.insert("counters", {"value": args["value"]})


@mutation(args={"id": v.id("counters")})
async def increment(ctx, args):
    """Add one at once; returns the value seen."""
    counter = await ctx.db.get(args["id"])
    await ctx.db.patch(args["id"], {"value": counter["value"] + 1})
    return counter["value"]


@mutation(args={"id": v.id("counters"), "ms": v.float64(), "gate": v.boolean()})
async def slow_increment(ctx, args):
    """Compute for ``ms`` of CPU, read the counter, (with ``gate``) wait for the test, add one."""
    _compute(args["ms"])
    counter = await ctx.db.get(args["id"])
    if args["gate"]:
        READ_DONE.set()
        PROCEED.wait(10)
        PROCEED.clear()  # a run after this one waits again
    await ctx.db.patch(args["id"], {"value": counter["value"] + 1})
    return counter["value"]


@query(args={"id": v.id("counters")})
async def value(ctx, args):
    return (await ctx.db.get(args["id"]))["value"]


@mutation(args={"ms": v.float64(), "group": v.string()})
async def shuffle(ctx, args):
    """Compute, then write and read back through every kind of read: what it returns holds no ids."""
    _compute(args["ms"])
    group = args["group"]
    ids = [await ctx.db.insert("items", {"group": group, "rank": float(rank), "text": f"t{rank}"}) for rank in range(6)]
    await ctx.db.patch(ids[1], {"rank": 10.0})  # moves within the index
    await ctx.db.patch(ids[2], {"text": "changed"})  # same index key, new body
    await ctx.db.delete(ids[3])
    try:
        await ctx.run_mutation("occ:insert_then_fail", {"group": group})
        nested = "committed"
    except ValueError:
        nested = "undone"  # its writes only; the rest is kept
    in_group = ctx.db.query("items").with_index("by_group", lambda q: q.eq("group", group))
    ascending = [[item["rank"], item["text"]] for item in await in_group.collect()]
    in_group = ctx.db.query("items").with_index("by_group", lambda q: q.eq("group", group))
    top_two = [[item["rank"], item["text"]] for item in await in_group.order("desc").take(2)]
    by_creation = [item["rank"] for item in await ctx.db.query("items").filter(lambda q: q.eq(q.field("group"), group)).collect()]
    deleted = await ctx.db.get(ids[3])
    return {"ascending": ascending, "top_two": top_two, "by_creation": by_creation, "deleted": deleted, "nested": nested}


@mutation(args={"group": v.string()})
async def insert_then_fail(ctx, args):
    await ctx.db.insert("items", {"group": args["group"], "rank": 99.0, "text": "undone"})
    raise ValueError("undo me")


@mutation(args={"ms": v.float64()})
async def slow_new_table(ctx, args):
    """Compute, then create a table by inserting into it (only the writer can)."""
    _compute(args["ms"])
    await ctx.db.insert("created_late", {"n": 1})
    return len(await ctx.db.query("created_late").collect())


@mutation(args={"ms": v.float64(), "word": v.string()})
async def slow_search_own_write(ctx, args):
    """Compute, insert an item, then find it by text search (its own write must show)."""
    _compute(args["ms"])
    await ctx.db.insert("items", {"group": "search", "rank": 0.0, "text": args["word"]})
    found = await ctx.db.query("items").with_search_index("search_text", lambda q: q.search("text", args["word"])).collect()
    return [item["text"] for item in found]


@query(args={"group": v.string()})
async def group(ctx, args):
    items = ctx.db.query("items").with_index("by_group", lambda q: q.eq("group", args["group"]))
    return [item["text"] for item in await items.collect()]


@query(args={"word": v.string()})
async def search(ctx, args):
    found = ctx.db.query("items").with_search_index("search_text", lambda q: q.search("text", args["word"]))
    return [item["text"] for item in await found.collect()]


@mutation(args={"id": v.id("counters"), "ms": v.float64()})
async def schedule_slow_increment(ctx, args):
    """Schedule the gated slow increment to run now, as a scheduled mutation."""
    return await ctx.scheduler.run_after(0, "occ:slow_increment", {"id": args["id"], "ms": args["ms"], "gate": True})


@query(args={"job": v.id("_scheduled_functions")})
async def job_state(ctx, args):
    return (await ctx.db.system.get(args["job"]))["state"]["kind"]


RUNS: list[str] = []  # the ``label`` of each run of ``counted``, first attempts included


@mutation(args={"ms": v.float64(), "label": v.string()})
async def counted(ctx, args):
    """Compute for ``ms`` of CPU, write one item; each run (a rolled back one too) is recorded in ``RUNS``."""
    RUNS.append(args["label"])
    _compute(args["ms"])
    await ctx.db.insert("items", {"group": "counted", "rank": 0.0, "text": args["label"]})
