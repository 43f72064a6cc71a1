"""An app without a schema: its one table exists only after the first insert."""

from runtime import mutation, query, v


@query(args={})
async def list_(ctx, args):
    """Every note's text, oldest first (empty while the table does not exist)."""
    return [row["text"] for row in await ctx.db.query("notes").collect()]


@mutation(args={"text": v.string()})
async def add(ctx, args):
    """Add a note (the first one creates the table)."""
    return await ctx.db.insert("notes", {"text": args["text"]})
