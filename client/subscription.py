"""A caller's live view of one query: an async iterator of results plus change callbacks.

The iterator yields the newest result each time it changes and never queues stale ones: a slow
consumer skips intermediate results but always catches up with the latest state, which is what a
reactive view needs. A failed result raises from ``__anext__`` (the same subscription can be
iterated again afterwards). Every subscription of a client sees a Transition at once: all their
results are updated before any callback runs or any waiting iterator resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from client.query_set import LiveQuery, QueryResult
from runtime.values.values import Value

if TYPE_CHECKING:
    from client.async_client import AsyncConvexClient

logger = logging.getLogger(__name__)

UpdateCallback = Callable[[Value], Any]
ErrorCallback = Callable[[Exception], Any]


class Subscription:
    """Results of ``path(args)`` as they change, until ``unsubscribe()`` or the client closes."""

    def __init__(self, client: AsyncConvexClient, path: str, args: dict[str, Value]) -> None:
        self.path = path
        self.args = args
        self._client = client
        self._query: LiveQuery | None = None
        self._callbacks: list[tuple[UpdateCallback, ErrorCallback | None]] = []
        # Results delivered so far vs. results the iterator has yielded: the iterator owes one
        # item exactly when these differ.
        self._delivered = 0
        self._yielded = 0
        self._changed = asyncio.Event()
        self._closed = False

    def _attach(self, query: LiveQuery) -> None:
        self._query = query
        if query.result is not None:
            self._delivered = 1

    @property
    def result(self) -> QueryResult | None:
        """The latest result (value or error), or ``None`` before the first one arrives."""
        return None if self._query is None else self._query.result

    @property
    def closed(self) -> bool:
        """True once unsubscribed or once the client is closed."""
        return self._closed

    def on_update(self, callback: UpdateCallback, on_error: ErrorCallback | None = None) -> Callable[[], None]:
        """Call ``callback(value)`` (or ``on_error(exc)``) on every change, starting with the current
        result if there is one. Returns a function that removes the callbacks again."""
        entry = (callback, on_error)
        self._callbacks.append(entry)
        result = self.result
        if result is not None:
            asyncio.get_running_loop().call_soon(self._call, entry, result)

        def remove() -> None:
            if entry in self._callbacks:
                self._callbacks.remove(entry)

        return remove

    def unsubscribe(self) -> None:
        """Stop watching; iterators end and the query leaves the server's set if nobody else watches."""
        if self._closed:
            return
        self._client._unsubscribe(self)
        self._end()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Value:
        while self._yielded == self._delivered:
            if self._closed:
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        self._yielded = self._delivered
        result = self.result
        assert result is not None
        return result.unwrap()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.unsubscribe()

    def _deliver(self, result: QueryResult) -> None:
        """Called by the client once a Transition has been applied to every query."""
        self._delivered += 1
        self._changed.set()
        for entry in list(self._callbacks):
            self._call(entry, result)

    def _end(self) -> None:
        self._closed = True
        self._callbacks.clear()
        self._changed.set()

    def _call(self, entry: tuple[UpdateCallback, ErrorCallback | None], result: QueryResult) -> None:
        if entry not in self._callbacks:
            return  # removed between scheduling and running
        callback, on_error = entry
        try:
            if result.error is None:
                callback(result.value)
            elif on_error is not None:
                on_error(result.error)
            else:
                logger.error("Subscription to %s failed: %s", self.path, result.error)
        except Exception:
            logger.exception("Callback of the subscription to %s raised", self.path)
