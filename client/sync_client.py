"""``ConvexClient``: the blocking face of ``AsyncConvexClient``, for scripts and threads.

The async client runs on an event loop in a daemon thread owned by this object; each blocking
call hands a coroutine to that loop and waits for it. Unlike the official PyPI client, waiting
releases the GIL, so other threads of the process keep running. Callbacks registered with
``on_update`` run on the client's loop thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, Self, TypeVar

from client.async_client import AsyncConvexClient
from client.errors import ConvexConnectionError
from client.subscription import ErrorCallback, Subscription, UpdateCallback
from runtime.values.values import Value

T = TypeVar("T")


class ConvexClient:
    """A blocking Convex client: ``query``, ``mutation``, ``action`` and iterable subscriptions.

    Every blocking method takes an optional ``timeout`` in seconds and raises ``TimeoutError``
    when it passes (the call itself may still complete on the server).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"convex-client {url}", daemon=True)
        self._thread.start()
        self._client: AsyncConvexClient = self._call(self._make_client(url), None)

    @staticmethod
    async def _make_client(url: str) -> AsyncConvexClient:
        client = AsyncConvexClient(url)
        await client.__aenter__()
        return client

    def query(self, path: str, args: dict[str, Value] | None = None, *, timeout: float | None = None) -> Value:
        """Run a query once and return its value."""
        return self._call(self._client.query(path, args), timeout)

    def mutation(self, path: str, args: dict[str, Value] | None = None, *, timeout: float | None = None) -> Value:
        """Run a mutation; returns once this client's subscriptions show its write."""
        return self._call(self._client.mutation(path, args), timeout)

    def action(self, path: str, args: dict[str, Value] | None = None, *, timeout: float | None = None) -> Value:
        """Run an action and return its value."""
        return self._call(self._client.action(path, args), timeout)

    def subscribe(self, path: str, args: dict[str, Value] | None = None) -> SyncSubscription:
        """Watch a query; iterate the result (blocking) to get each new value."""
        return SyncSubscription(self, self._call(self._subscribe(path, args), None))

    async def _subscribe(self, path: str, args: dict[str, Value] | None) -> Subscription:
        return self._client.subscribe(path, args)

    def on_update(
        self,
        path: str,
        args: dict[str, Value] | None,
        callback: UpdateCallback,
        on_error: ErrorCallback | None = None,
    ) -> Callable[[], None]:
        """Call ``callback(value)`` (on the client's thread) on every change; returns an unsubscribe function."""
        subscription = self.subscribe(path, args)
        subscription.on_update(callback, on_error)
        return subscription.unsubscribe

    def set_auth(
        self, token: str | Callable[[bool], str | None], on_change: Callable[[bool], Any] | None = None
    ) -> None:
        """Authenticate with a token, or with ``fetch(force_refresh) -> token`` (called on a worker thread)."""
        if isinstance(token, str):
            self._run_soon(lambda: self._client.set_auth(token, on_change))
            return
        fetch = token

        async def fetch_async(force_refresh: bool) -> str | None:
            return await asyncio.get_running_loop().run_in_executor(None, fetch, force_refresh)

        self._run_soon(lambda: self._client.set_auth(fetch_async, on_change))

    def clear_auth(self) -> None:
        """Go back to being unauthenticated."""
        self._run_soon(self._client.clear_auth)

    def close(self) -> None:
        """Close the connection and stop the client's thread."""
        if not self._loop.is_running():
            return
        self._call(self._client.close(), None)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None) -> T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("Blocking ConvexClient calls cannot be made from its own callbacks")
        if not self._loop.is_running():
            coroutine.close()
            raise ConvexConnectionError("The client was closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _run_soon(self, function: Callable[[], Any]) -> None:
        """Run ``function`` on the client's loop and wait for it (directly if already there)."""
        if threading.current_thread() is self._thread:
            function()
            return
        if not self._loop.is_running():
            raise ConvexConnectionError("The client was closed")
        done: Future[None] = Future()

        def run() -> None:
            try:
                function()
                done.set_result(None)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        done.result()


class SyncSubscription:
    """A blocking view of a ``Subscription``: ``for value in subscription`` yields each new result."""

    def __init__(self, client: ConvexClient, subscription: Subscription) -> None:
        self._client = client
        self._subscription = subscription

    def next(self, timeout: float | None = None) -> Value:
        """Wait for the next result (the current one first); raises ``StopIteration`` once closed."""
        try:
            return self._client._call(self._subscription.__anext__(), timeout)
        except StopAsyncIteration:
            raise StopIteration from None

    def __iter__(self) -> Iterator[Value]:
        return self

    def __next__(self) -> Value:
        return self.next()

    def on_update(self, callback: UpdateCallback, on_error: ErrorCallback | None = None) -> Callable[[], None]:
        """Register change callbacks (run on the client's thread); returns a function removing them."""
        remove: list[Callable[[], None]] = []
        self._client._run_soon(lambda: remove.append(self._subscription.on_update(callback, on_error)))
        return lambda: self._client._run_soon(remove[0])

    def unsubscribe(self) -> None:
        """Stop watching; a blocked ``next`` ends with ``StopIteration``."""
        self._client._run_soon(self._subscription.unsubscribe)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.unsubscribe()
