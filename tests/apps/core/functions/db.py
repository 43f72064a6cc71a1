"""Generic database operations whose arguments say what to do, so tests can drive ``ctx.db``
through the executor without writing a function per case.

A query spec is ``{table, index?, range?, order?, filters?}``; ``range`` and ``filters`` are
lists of ``{op, field, value?}`` where a missing ``value`` means ``undefined`` (a field that is
absent), which cannot otherwise travel through function arguments.
"""

from runtime import UNDEFINED, ConvexError, internal_mutation, mutation, query


def _operand(step: dict) -> object:
    return step.get("value", UNDEFINED)


def build_query(ctx, spec: dict):
    """The ``ctx.db.query(...)`` chain a spec describes (system tables via ``system: true``)."""
    db = ctx.db.system if spec.get("system") else ctx.db
    chain = db.query(spec["table"])
    if "index" in spec:
        steps = spec.get("range")
        if steps is None:
            chain = chain.with_index(spec["index"])
        else:

            def bounds(q):
                for step in steps:
                    q = getattr(q, step["op"])(step["field"], _operand(step))
                return q

            chain = chain.with_index(spec["index"], bounds)
    if "order" in spec:
        chain = chain.order(spec["order"])
    for step in spec.get("filters", []):
        chain = chain.filter(lambda q, step=step: getattr(q, step["op"])(q.field(step["field"]), _operand(step)))
    return chain


async def run_terminal(ctx, spec: dict):
    """Build the spec's query and consume it with its ``terminal`` (default ``collect``)."""
    chain = build_query(ctx, spec)
    terminal = spec.get("terminal", "collect")
    if terminal == "collect":
        return await chain.collect()
    if terminal == "take":
        return await chain.take(spec["n"])
    if terminal == "first":
        return await chain.first()
    if terminal == "unique":
        return await chain.unique()
    if terminal == "paginate":
        return await chain.paginate(spec["opts"])
    if terminal == "iterate":
        pulled = []
        async for document in chain:
            pulled.append(document)
            if len(pulled) >= spec["n"]:
                break
        return pulled
    raise ValueError(f"unknown terminal {terminal!r}")


@query
async def select(ctx, args):
    """Run one query spec."""
    return await run_terminal(ctx, args)


@query
async def get(ctx, args):
    """``db.get(id)`` (or ``db.get(table, id)`` when ``table`` is given)."""
    if "table" in args:
        return await ctx.db.get(args["table"], args["id"])
    return await ctx.db.get(args["id"])


async def _step(ctx, step: dict, results: list):
    op = step["op"]
    target = results[step["ref"]] if "ref" in step else step.get("id")
    if op == "insert":
        return await ctx.db.insert(step["table"], step["value"])
    if op == "patch":
        partial = step.get("value", {})
        if step.get("remove"):
            partial = {**partial, **{name: UNDEFINED for name in step["remove"]}}
        return await ctx.db.patch(target, partial)
    if op == "replace":
        return await ctx.db.replace(target, step["value"])
    if op == "delete":
        return await ctx.db.delete(target)
    if op == "get":
        return await ctx.db.get(target)
    if op == "select":
        return await run_terminal(ctx, step["spec"])
    if op == "nested":
        # A nested mutation; with ``catch`` its failure is swallowed and reported as a value.
        try:
            return await ctx.run_mutation("db:apply", {"steps": step["steps"]})
        except Exception as error:
            if not step.get("catch"):
                raise
            return {"caught": str(error)}
    if op == "nested_query":
        return await ctx.run_query("db:select", step["spec"])
    if op == "fail":
        raise ConvexError(step.get("data", "failed on purpose"))
    raise ValueError(f"unknown step {op!r}")


@mutation
async def apply(ctx, args):
    """Run ``steps`` in order inside one mutation and return each step's result.

    A step may name the id returned by an earlier step with ``ref`` (its position).
    """
    results: list = []
    for step in args["steps"]:
        results.append(await _step(ctx, step, results))
    return results


@internal_mutation
async def apply_internal(ctx, args):
    """``apply``, but internal: callable only by admins and other functions."""
    return await apply.handler(ctx, args)
