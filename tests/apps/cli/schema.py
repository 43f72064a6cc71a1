"""The CLI test app: typed ``messages`` (the chat example's table) and ``things``, which takes any
value so snapshots can carry int64, bytes, NaN and -0.0."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"author": v.string(), "body": v.string()}).index("by_author", ["author"]),
        "things": define_table({"value": v.any()}),
    }
)
