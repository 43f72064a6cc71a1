"""The chat example's schema plus a table of arbitrary values, for the client compatibility tests."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"author": v.string(), "body": v.string()}),
        "values": define_table({"name": v.string(), "value": v.any()}).index("by_name", ["name"]),
    }
)
