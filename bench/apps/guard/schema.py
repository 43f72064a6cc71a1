"""The guard benchmarks' app: a chat's messages, and queries that compute."""

from runtime.schema import define_schema, define_table
from runtime.validators import v

schema = define_schema({"messages": define_table({"author": v.string(), "body": v.string()})})
