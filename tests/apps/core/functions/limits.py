"""Functions that drive the transaction limits and metrics of convex-semantics §4.4."""

from runtime import ConvexError, internal_mutation, mutation, query


@mutation
async def insert_many(ctx, args):
    """Inserts ``count`` empty documents into ``bulk`` and returns how many it inserted."""
    for _ in range(int(args["count"])):
        await ctx.db.insert("bulk", {})
    return args["count"]


@mutation
async def insert_and_measure(ctx, args):
    """Inserts ``value`` into ``sized``, reads it back, and returns the transaction's metrics."""
    doc_id = await ctx.db.insert("sized", args["value"])
    await ctx.db.get(doc_id)
    return ctx.meta.get_transaction_metrics()


@query
async def measure_reads(ctx, args):
    """Scans ``sized`` and returns the metrics of the reads."""
    await ctx.db.query("sized").collect()
    return ctx.meta.get_transaction_metrics()


@internal_mutation
async def write_then_fail(ctx, args):
    """Inserts ``count`` documents into ``bulk`` and then fails, so its writes roll back."""
    for _ in range(int(args["count"])):
        await ctx.db.insert("bulk", {"n": 1})
    raise ConvexError("rolled back")


@mutation
async def catch_failed_nested(ctx, args):
    """Runs ``write_then_fail`` as a sub-transaction, catches its failure, and reports the metrics."""
    before = ctx.meta.get_transaction_metrics()
    try:
        await ctx.run_mutation("limits:write_then_fail", {"count": args["count"]})
    except ConvexError:
        pass
    after = ctx.meta.get_transaction_metrics()
    return {
        "before": before["documentsWritten"]["used"],
        "after": after["documentsWritten"]["used"],
        "bytes": after["bytesWritten"]["used"],
    }
