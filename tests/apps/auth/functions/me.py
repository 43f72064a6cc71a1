"""What a signed-in caller can see about themselves, and their notes."""

from runtime import ConvexError, mutation, query, v
from runtime.auth import get_auth_user_id


@query(args={})
async def whoami(ctx, args):
    """The caller's identity exactly as ctx.auth reports it (None when signed out)."""
    return await ctx.auth.get_user_identity()


@query(args={})
async def user(ctx, args):
    """The signed-in user's document, or None."""
    user_id = await get_auth_user_id(ctx)
    return None if user_id is None else await ctx.db.get(user_id)


@mutation(args={"text": v.string()})
async def add_note(ctx, args):
    """Store a note owned by the signed-in user."""
    user_id = await get_auth_user_id(ctx)
    if user_id is None:
        raise ConvexError("Not authenticated")
    return await ctx.db.insert("notes", {"userId": user_id, "text": args["text"]})
