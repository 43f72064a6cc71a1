"""Notes: add, edit, text search (optionally in one channel), paginated search and vector search."""

from runtime import action, mutation, query, v


@mutation(args={"body": v.string(), "channel": v.string(), "embedding": v.optional(v.array(v.float64()))})
async def add(ctx, args):
    return await ctx.db.insert("notes", args)


@mutation(args={"id": v.id("notes"), "body": v.string()})
async def edit(ctx, args):
    await ctx.db.patch(args["id"], {"body": args["body"]})


@mutation(args={"id": v.id("notes")})
async def remove(ctx, args):
    await ctx.db.delete(args["id"])


@query(args={"text": v.string(), "channel": v.optional(v.string()), "limit": v.optional(v.float64())})
async def search(ctx, args):
    def build(q):
        q = q.search("body", args["text"])
        return q.eq("channel", args["channel"]) if "channel" in args else q

    notes = await ctx.db.query("notes").with_search_index("search_body", build).take(int(args.get("limit", 100)))
    return [note["body"] for note in notes]


@query(args={"text": v.string(), "paginationOpts": v.any()})
async def search_page(ctx, args):
    result = await (
        ctx.db.query("notes")
        .with_search_index("search_body", lambda q: q.search("body", args["text"]))
        .paginate(args["paginationOpts"])
    )
    return {**result, "page": [note["body"] for note in result["page"]]}


@query(args={"field": v.string()})
async def bad_search(ctx, args):
    return await ctx.db.query("notes").with_search_index("search_body", lambda q: q.search(args["field"], "x")).collect()


@action(args={"vector": v.array(v.float64()), "channel": v.optional(v.string()), "limit": v.optional(v.float64())})
async def similar(ctx, args):
    options = {"vector": args["vector"], "limit": args.get("limit")}
    if "channel" in args:
        options["filter"] = lambda q: q.eq("channel", args["channel"])
    return await ctx.vector_search("notes", "by_embedding", options)


@action(args={"vector": v.array(v.float64())})
async def similar_filtered_by_value(ctx, args):
    """A filter whose first argument is a value rather than a field name."""
    return await ctx.vector_search("notes", "by_embedding", {"vector": args["vector"], "filter": lambda q: q.eq(1.0, "x")})


@mutation(args={"id": v.id("notes"), "embedding": v.array(v.float64()), "channel": v.string()})
async def move(ctx, args):
    await ctx.db.patch(args["id"], {"embedding": args["embedding"], "channel": args["channel"]})
