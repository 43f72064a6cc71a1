"""The sync server's test app: channel messages, named counters, a table of large values."""

from runtime.schema import define_schema, define_table
from runtime.validators import v

schema = define_schema(
    {
        "messages": define_table({"channel": v.string(), "body": v.string()}).index("by_channel", ["channel"]),
        "counters": define_table({"name": v.string(), "value": v.float64()}).index("by_name", ["name"]),
    }
)
