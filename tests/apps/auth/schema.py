"""The auth example's tables: the sign-in library's, plus notes owned by users."""

from runtime.auth import auth_tables
from runtime.schema import define_schema, define_table
from runtime.validators import v

schema = define_schema(
    {
        **auth_tables(),
        "notes": define_table({"userId": v.id("users"), "text": v.string()}).index("by_user", ["userId"]),
    }
)
