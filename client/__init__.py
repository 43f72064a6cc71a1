"""opencom's Python client for Convex-protocol servers (opencom's runtime or Convex itself).

    from client import AsyncConvexClient, ConvexClient, ConvexError

``AsyncConvexClient`` speaks the WebSocket sync protocol on an asyncio loop; ``ConvexClient`` is
its blocking wrapper; ``AsyncConvexHttpClient`` calls the stateless HTTP API.
"""

from client.async_client import AsyncConvexClient, TokenFetcher
from client.errors import ConvexConnectionError, ConvexFunctionError
from client.http import AsyncConvexHttpClient
from client.query_set import QueryResult
from client.subscription import Subscription
from client.sync_client import ConvexClient, SyncSubscription
from runtime.values.errors import ConvexError

__all__ = [
    "AsyncConvexClient",
    "AsyncConvexHttpClient",
    "ConvexClient",
    "ConvexConnectionError",
    "ConvexError",
    "ConvexFunctionError",
    "QueryResult",
    "Subscription",
    "SyncSubscription",
    "TokenFetcher",
]
