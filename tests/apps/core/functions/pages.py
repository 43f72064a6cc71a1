"""Pagination inside nested calls: each nested query is its own execution and may paginate."""

from runtime import query


@query
async def with_nested_page(ctx, args):
    """Paginates ``items`` and also asks a nested query for a page of ``notes``."""
    opts = {"numItems": 2, "cursor": None}
    mine = await ctx.db.query("items").paginate(opts)
    nested = await ctx.run_query("db:select", {"table": "notes", "terminal": "paginate", "opts": opts})
    return [len(mine["page"]), len(nested["page"])]
