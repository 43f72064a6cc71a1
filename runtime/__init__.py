"""opencom's runtime: what an app's ``schema.py`` and ``functions/`` import.

    from runtime import query, mutation, action, v, ConvexError, UNDEFINED
"""

from runtime.clock import now_ms
from runtime.crons import cron_jobs
from runtime.errors import ConvexError
from runtime.functions import action, internal_action, internal_mutation, internal_query, mutation, query
from runtime.validators import v
from runtime.values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "ConvexError",
    "action",
    "cron_jobs",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "now_ms",
    "query",
    "v",
]
