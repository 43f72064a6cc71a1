"""The data model of the chat example: one table of messages."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"author": v.string(), "body": v.string()}),
    }
)
