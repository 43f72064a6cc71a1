"""The write sets of recent commits, kept for as long as a mutation run at an older snapshot may need them.

A mutation run off the writer (``runtime.database.optimistic``) read a snapshot at some timestamp; before it
commits, the writer checks that no commit after that timestamp wrote inside its read set. This log
is what it checks against. Commits enter it as the writer makes them, before they are durable
(later mutations of the same group must see them too), and leave it once no such mutation can
still need them: everything at or below the oldest ``hold`` floor, or, with no hold, below the
last durable commit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from runtime.database.read_set import Commit, DocumentWrite, Interval, ReadSet, SearchRead

SearchOverlap = Callable[[SearchRead, DocumentWrite], bool]


class RecentCommits:
    """Commits in timestamp order, oldest first (see the module docstring)."""

    def __init__(self) -> None:
        self._commits: deque[Commit] = deque()
        # Floors of the mutations running off the writer: no commit above the lowest may be dropped.
        self._floors: Counter[int] = Counter()

    def add(self, commit: Commit) -> None:
        """Remember a commit the writer just made (not yet durable)."""
        self._commits.append(commit)

    def discard_after(self, ts: int) -> None:
        """Forget commits above ``ts``: their group failed and nothing of them was stored."""
        while self._commits and self._commits[-1].ts > ts:
            self._commits.pop()

    def durable(self, ts: int) -> None:
        """Every commit up to ``ts`` is durable: drop those no held floor still needs."""
        floor = min(self._floors) if self._floors else ts
        while self._commits and self._commits[0].ts <= floor:
            self._commits.popleft()

    @contextmanager
    def hold(self, floor: int) -> Iterator[None]:
        """Keep every commit above ``floor`` while the block runs.

        ``floor`` must be at or below the snapshot the caller is about to read (the last durable
        commit when it calls is), so that every commit its snapshot misses stays here.
        """
        self._floors[floor] += 1
        try:
            yield
        finally:
            self._floors[floor] -= 1
            if not self._floors[floor]:
                del self._floors[floor]

    def first_conflict(self, read_set: ReadSet, after_ts: int, search_overlap: SearchOverlap) -> DocumentWrite | None:
        """The first write committed after ``after_ts`` inside ``read_set`` (convex-semantics §5.2), if any.

        The writer waits for this check, so each key costs a binary search, however large the read set.
        """
        ranges = {index_id: _Ranges(intervals) for index_id, intervals in read_set.intervals.items()}
        for commit in self._commits:
            if commit.ts <= after_ts:
                continue
            for write in commit.writes:
                for index_id, key in write.keys:
                    index_ranges = ranges.get(index_id)
                    if index_ranges is not None and index_ranges.holds(key):
                        return write
                if any(search_overlap(read, write) for read in read_set.searches):
                    return write
        return None


class _Ranges:
    """The union of one index's read intervals, as sorted disjoint ranges."""

    def __init__(self, intervals: list[Interval]) -> None:
        self._lows: list[bytes] = []
        self._highs: list[bytes | None] = []  # None: unbounded above
        for interval in sorted(intervals, key=lambda interval: interval.low):
            if self._lows and (self._highs[-1] is None or interval.low <= self._highs[-1]):
                if self._highs[-1] is not None and (interval.high is None or interval.high > self._highs[-1]):
                    self._highs[-1] = interval.high
                continue
            self._lows.append(interval.low)
            self._highs.append(interval.high)

    def holds(self, key: bytes) -> bool:
        position = bisect_right(self._lows, key) - 1
        if position < 0:
            return False
        high = self._highs[position]
        return high is None or key < high
