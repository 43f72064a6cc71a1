"""The security tests' app: notes written by mutations, listed by queries."""

from runtime import define_schema, define_table, v

schema = define_schema({"notes": define_table({"owner": v.string(), "text": v.string()})})
