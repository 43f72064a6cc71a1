"""Filters written as data: ``["add", ["field", "a"], ["lit", 1]]`` becomes ``q.add(q.field("a"), 1)``.

``["lit", v]`` is a literal, ``["undefined"]`` the missing value, ``["field", path]`` a field, and
any other head is the ``q`` method of that name (``and``/``or``/``not`` map to ``and_`` …).
"""

from runtime import UNDEFINED, query


def build(q, node):
    """The ``q`` expression a data node describes."""
    head, *rest = node
    if head == "lit":
        return rest[0]
    if head == "undefined":
        return UNDEFINED
    if head == "field":
        return q.field(rest[0])
    method = getattr(q, f"{head}_" if head in ("and", "or", "not") else head)
    return method(*(build(q, child) for child in rest))


@query
async def where(ctx, args):
    """Documents of ``table`` (default ``items``) for which ``expr`` holds, in creation order."""
    return await ctx.db.query(args.get("table", "items")).filter(lambda q: build(q, args["expr"])).collect()
