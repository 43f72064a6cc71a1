"""opencom's runtime: what an app's ``schema.py`` and ``functions/`` import.

    from runtime import query, mutation, action, v, ConvexError, UNDEFINED
    from runtime import define_schema, define_table, v   # in schema.py
"""

from runtime.clock import now_ms
from runtime.functions.crons import cron_jobs
from runtime.functions.definitions import action, internal_action, internal_mutation, internal_query, mutation, query
from runtime.values.errors import ConvexError
from runtime.values.schema import define_schema, define_table
from runtime.values.validators import v
from runtime.values.values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "ConvexError",
    "action",
    "cron_jobs",
    "define_schema",
    "define_table",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "now_ms",
    "query",
    "v",
]
