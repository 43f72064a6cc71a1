"""The sync server's test app: channel messages, named counters, a table of large values."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"channel": v.string(), "body": v.string()}).index("by_channel", ["channel"]),
        "counters": define_table({"name": v.string(), "value": v.float64()}).index("by_name", ["name"]),
    }
)
