"""Functions the client compatibility tests need beyond the chat app: values, errors, identity."""

from runtime import ConvexError, action, mutation, query, v


@query(args={"value": v.any()})
async def echo(ctx, args):
    """Return the argument unchanged (int64, bytes, special floats must survive both ways)."""
    return args["value"]


@action(args={"value": v.any()})
async def echo_action(ctx, args):
    """The same as ``echo``, as an action."""
    return args["value"]


@mutation(args={"name": v.string(), "value": v.any()})
async def put(ctx, args):
    """Store ``value`` under ``name`` (replacing an earlier one) and return it as stored."""
    existing = await ctx.db.query("values").with_index("by_name", lambda q: q.eq("name", args["name"])).unique()
    if existing is None:
        await ctx.db.insert("values", {"name": args["name"], "value": args["value"]})
    else:
        await ctx.db.patch(existing["_id"], {"value": args["value"]})
    return args["value"]


@query(args={"name": v.string()})
async def get(ctx, args):
    """The value stored under ``name``, or null."""
    row = await ctx.db.query("values").with_index("by_name", lambda q: q.eq("name", args["name"])).unique()
    return None if row is None else row["value"]


@mutation(args={"code": v.string()})
async def fail(ctx, args):
    """Throw a ConvexError whose data holds a string, an int64 and bytes."""
    raise ConvexError({"code": args["code"], "count": 7, "blob": b"\x00\xff"})


@query(args={"code": v.string()})
async def fail_query(ctx, args):
    """A query that fails with ConvexError data."""
    raise ConvexError({"code": args["code"]})


@mutation(args={})
async def crash(ctx, args):
    """Fail with a plain error: only its message reaches the client."""
    raise RuntimeError("kaboom")


@query(args={})
async def whoami(ctx, args):
    """The caller's token identifier, or null when unauthenticated."""
    identity = await ctx.auth.get_user_identity()
    return None if identity is None else identity["tokenIdentifier"]


@query(args={})
async def count_messages(ctx, args):
    """How many messages exist: changes in the same Transition as ``messages:list``."""
    return len(await ctx.db.query("messages").collect())


@query(args={"numItems": v.float64()})
async def newest_page(ctx, args):
    """The first page of messages, newest first; a journal keeps its end where it was."""
    page = await ctx.db.query("messages").order("desc").paginate({"numItems": args["numItems"], "cursor": None})
    return [message["body"] for message in page["page"]]
