"""The cluster tests' app: a chat, bank accounts and scheduled jobs that leave one row per run."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table({"author": v.string(), "body": v.string()}),
        "accounts": define_table({"name": v.string(), "balance": v.float64()}),
        "runs": define_table({"job": v.float64()}),
    }
)
