"""Small functions for the function-semantics tests: validation, errors, logs, nesting, actions."""

import logging

from runtime import UNDEFINED, ConvexError, action, internal_mutation, internal_query, mutation, query, v


@query(args={"text": v.string()}, returns=v.string())
async def shout(ctx, args):
    """Upper-cases its argument (checked on the way in and out)."""
    return args["text"].upper()


@query(returns=v.string())
async def returns_wrong_type(ctx, args):
    """Declares a string result and returns a number."""
    return 1.0


@query
async def returns_nothing(ctx, args):
    """Returns no value: the caller receives null."""


@query
async def keywords(ctx, *, name: str, times: int = 1):
    """Keyword-only parameters: type hints are the validators."""
    return name * times


@query
async def logs(ctx, args):
    """Prints and logs at every level."""
    print("hello", "world")
    print("no newline", end="")
    logging.getLogger("app").info("info line")
    logging.getLogger("app").warning("warn line")
    logging.getLogger("app").error("error line")


@query
async def raises(ctx, args):
    """Raises a ConvexError carrying the given data, or a plain error."""
    if args.get("plain"):
        raise ValueError("plain failure")
    raise ConvexError(args.get("data"))


@query
async def catches_nested_error(ctx, args):
    """Calls ``raises`` and returns the data of the ConvexError it caught."""
    try:
        await ctx.run_query("misc:raises", {"data": args["data"]})
    except ConvexError as error:
        return {"caught": error.data}
    return None


@internal_query
async def secret(ctx, args):
    """An internal query: not callable by clients."""
    return "secret"


@query
async def calls_secret(ctx, args):
    """A public query may call an internal one."""
    return await ctx.run_query("misc:secret")


@query
async def recurse(ctx, args):
    """Calls itself ``depth`` more times."""
    if args["depth"] == 0:
        return 0
    return 1 + await ctx.run_query("misc:recurse", {"depth": args["depth"] - 1})


@query
async def metadata(ctx, args):
    """What ``ctx.meta`` says about the running function."""
    return ctx.meta.get_function_metadata()


@mutation
async def insert_many(ctx, args):
    """Inserts ``count`` notes and returns their creation times in insertion order."""
    times = []
    for index in range(args["count"]):
        doc_id = await ctx.db.insert("notes", {"text": f"note {index}"})
        times.append((await ctx.db.get(doc_id))["_creationTime"])
    return times


@internal_mutation
async def record(ctx, args):
    """Inserts one note (an internal mutation that actions call)."""
    return await ctx.db.insert("notes", {"text": args["text"]})


@action
async def records_then_fails(ctx, args):
    """Runs a mutation and then fails: the mutation stays committed (actions are not transactions)."""
    await ctx.run_mutation("misc:record", {"text": args["text"]})
    raise ConvexError({"after": args["text"]})


@action
async def counts_notes(ctx, args):
    """Reads from an action through a query."""
    return len(await ctx.run_query("db:select", {"table": "notes"}))


@query
async def tampered(ctx, args):
    """Returns the ``items`` after changing them in place the way ``how`` says."""
    items = await ctx.db.query("items").collect()
    if args["how"] == "invalid_value":
        items[0]["bad"] = object()
    elif args["how"] == "nested_invalid":
        items[0]["n"]["x"] = {"$bad": 1}
    elif args["how"] == "undefined_field":
        items[0]["a"] = UNDEFINED
    elif args["how"] == "too_deep":
        wrapped = items
        for _ in range(args["depth"]):
            wrapped = [wrapped]
        return wrapped
    elif args["how"] == "big_int":
        items[0]["a"] = 2**64
    return items
