"""Notes: a mutation whose response holds a secret for its caller only, and plain lists."""

import secrets

from runtime import mutation, query, v


async def _owner(ctx):
    identity = await ctx.auth.get_user_identity()
    return identity["subject"] if identity else "anonymous"


@mutation(args={"text": v.string()})
async def add(ctx, args):
    """Insert a note; the response carries a fresh secret meant for this caller alone."""
    owner = await _owner(ctx)
    note_id = await ctx.db.insert("notes", {"owner": owner, "text": args["text"]})
    return {"id": note_id, "owner": owner, "token": "wst_" + secrets.token_hex(8)}


@query(args={})
async def list_(ctx, args):
    """Every note, oldest first."""
    return [f"{note['owner']}:{note['text']}" for note in await ctx.db.query("notes").collect()]


@query(args={"size": v.float64()})
async def padded(ctx, args):
    """``size`` bytes of padding: a large result for budget tests."""
    return "x" * int(args["size"])


@query(args={"paginationOpts": v.any()})
async def page(ctx, args):
    """One page of notes, oldest first."""
    return await ctx.db.query("notes").paginate(args["paginationOpts"])
