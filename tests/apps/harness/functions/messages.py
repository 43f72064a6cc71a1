"""Messages signed by the caller, and the identity seen at every depth of a call tree."""

from runtime import ConvexError, action, internal_query, mutation, query, v


@mutation(args={"body": v.string()})
async def send(ctx, args):
    identity = await ctx.auth.get_user_identity()
    author = identity["name"] if identity is not None else "anonymous"
    return await ctx.db.insert("messages", {"author": author, "body": args["body"]})


@query
async def list_(ctx, args):
    return [[m["author"], m["body"]] for m in await ctx.db.query("messages").collect()]


@query(args={"author": v.string()})
async def by_author(ctx, args):
    rows = ctx.db.query("messages").with_index("by_author", lambda q: q.eq("author", args["author"]))
    return [m["body"] for m in await rows.collect()]


@internal_query
async def whoami(ctx, args):
    identity = await ctx.auth.get_user_identity()
    return None if identity is None else identity["tokenIdentifier"]


@query
async def whoami_nested(ctx, args):
    return {
        "outer": (await ctx.auth.get_user_identity() or {}).get("tokenIdentifier"),
        "inner": await ctx.run_query(whoami),
    }


@action
async def whoami_from_action(ctx, args):
    return {
        "query": await ctx.run_query("messages:whoami"),
        "mutation": await ctx.run_mutation("messages:send", {"body": "from action"}),
    }


@mutation(args={"body": v.string()})
async def send_then_fail(ctx, args):
    await ctx.db.insert("messages", {"author": "doomed", "body": args["body"]})
    raise ConvexError({"code": "REFUSED", "message": "changed my mind"})
