"""The auth example's tables: the sign-in library's, plus notes owned by users."""

from runtime import define_schema, define_table, v
from runtime.auth import auth_tables

schema = define_schema(
    {
        **auth_tables(),
        "notes": define_table({"userId": v.id("users"), "text": v.string()}).index("by_user", ["userId"]),
    }
)
