"""The app bench/subscriptions.py measures: the chat example's messages plus keyed documents."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"author": v.string(), "body": v.string()}),
        "docs": define_table({"name": v.string(), "value": v.float64()}).index("by_name", ["name"]),
    }
)
