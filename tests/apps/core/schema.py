"""The core test app's tables: ``items`` takes any document and has indexes to range over,
``accounts`` is typed for the bank functions. Tables not named here exist too, unvalidated."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "items": define_table(v.any()).index("by_a", ["a"]).index("by_a_b", ["a", "b"]).index("by_nx", ["n.x"]),
        "accounts": define_table({"name": v.string(), "balance": v.int64()}).index("by_name", ["name"]),
        "notes": define_table({"text": v.string(), "score": v.optional(v.float64())}),
    }
)
