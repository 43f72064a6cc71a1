"""opencom's runtime: what an app's ``schema.py`` and ``functions/`` import.

    from runtime import query, mutation, action, v, ConvexError, UNDEFINED
"""

from runtime.errors import ConvexError
from runtime.functions import action, internal_action, internal_mutation, internal_query, mutation, query
from runtime.validators import v
from runtime.values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "ConvexError",
    "action",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "query",
    "v",
]
