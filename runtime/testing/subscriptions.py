"""``t.subscribe(query, args)``: the successive results a client subscribed to a query would see.

A subscription runs its query once when created, then again after every commit that touches what
the last run read (its read set, as the server's subscriptions decide), and queues each result
that differs from the one before — so a test sees one new value per committed change that
matters to the query, in commit order, and nothing for commits that do not.

The harness refreshes subscriptions after each of its own calls return (and after scheduled work
it drives), so results are queued deterministically: ``next()`` never waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from runtime.database.read_set import Commit, ReadSet
from runtime.functions.executor import FunctionResult

QueryRunner = Callable[[], FunctionResult]


class NoNewResult(LookupError):
    """``Subscription.next()`` found nothing new: no commit since the last result changed it."""


class Subscription:
    """One live query: ``await sub.next()`` returns the next new result (an error result raises)."""

    def __init__(self, description: str, run: QueryRunner) -> None:
        self._description = description
        self._run = run
        self._queue: deque[FunctionResult] = deque()
        self._last: FunctionResult | None = None
        self._read_set: ReadSet | None = None
        self._dirty = True
        self.closed = False

    def on_commits(self, commits: list[Commit]) -> None:
        """Mark the query stale if any of ``commits`` wrote inside its read set."""
        if self._read_set is None or any(commit.touches(self._read_set) for commit in commits):
            self._dirty = True

    def refresh(self) -> None:
        """Re-run the query if it is stale, and queue its result if it changed."""
        if self.closed or not self._dirty:
            return
        self._dirty = False
        result = self._run()
        self._read_set = result.read_set
        if self._last is None or not _same(self._last, result):
            self._queue.append(result)
        self._last = result

    def pending(self) -> int:
        """How many new results are queued."""
        return len(self._queue)

    async def next(self) -> Any:
        """The next new result (raising the query's error if that result was one)."""
        if not self._queue:
            raise NoNewResult(f"{self._description}: no new result since the last one")
        return self._queue.popleft().unwrap()

    async def __aiter__(self) -> AsyncIterator[Any]:
        """The queued results, oldest first, until none is left."""
        while self._queue:
            yield await self.next()

    def close(self) -> None:
        """Stop following the query."""
        self.closed = True
        self._queue.clear()


def _same(a: FunctionResult, b: FunctionResult) -> bool:
    if a.error is not None or b.error is not None:
        return a.error is not None and b.error is not None and str(a.error) == str(b.error)
    return bool(a.value == b.value) and type(a.value) is type(b.value)
