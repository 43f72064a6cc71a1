"""The security tests' app: notes written by mutations, listed by queries."""

from runtime.schema import define_schema, define_table
from runtime.validators import v

schema = define_schema({"notes": define_table({"owner": v.string(), "text": v.string()})})
