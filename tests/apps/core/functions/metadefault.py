"""A module whose function is its default export."""

from runtime import query


@query
async def default(ctx, args):
    """What ``ctx.meta`` says about a default export."""
    return ctx.meta.get_function_metadata()
