"""The write sets of recent commits, kept for as long as a reader of an older snapshot may need them.

Two kinds of readers work at a snapshot older than the commits being made and then need to know
what those commits wrote: a mutation run off the writer (``runtime.database.optimistic``), which
may only commit if no commit after its snapshot wrote inside its read set, and a live query re-run
on a worker (``runtime.server.subscriptions``), whose result holds only until the first later
commit that touches it. Both read this one log.

Invariant: the log holds, in timestamp order, every commit not yet durable and every commit above
the floor of some ``hold``; nothing else. A reader takes a hold at or below its snapshot before it
reads, so every commit its snapshot misses stays here until it releases the hold. Commits enter as
the writer makes them, before they are durable (later mutations of the same group must see them
too); those of a group that failed leave again (``discard_after``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Self

from runtime.database.read_set import Commit, DocumentWrite, Interval, ReadSet, SearchRead

SearchOverlap = Callable[[SearchRead, DocumentWrite], bool]


class RecentCommits:
    """Commits in timestamp order, oldest first (see the module docstring)."""

    def __init__(self) -> None:
        self._commits: deque[Commit] = deque()
        # Floors of the holds taken and not released: no commit above the lowest may be dropped.
        self._floors: Counter[int] = Counter()
        self._durable_ts = 0  # every commit up to here is durable

    def __len__(self) -> int:
        return len(self._commits)

    def add(self, commit: Commit) -> None:
        """Remember a commit the writer just made (not yet durable)."""
        self._commits.append(commit)

    def discard_after(self, ts: int) -> None:
        """Forget commits above ``ts``: their group failed and nothing of them was stored."""
        while self._commits and self._commits[-1].ts > ts:
            self._commits.pop()

    def durable(self, ts: int) -> None:
        """Every commit up to ``ts`` is durable: drop those no hold still needs."""
        self._durable_ts = max(self._durable_ts, ts)
        self._drop_unneeded()

    def hold(self, floor: int) -> Hold:
        """Keep every commit above ``floor`` until the returned hold is released (also a ``with`` block).

        ``floor`` must be at or below the snapshot the caller is about to read (a durable commit's
        ts), so that every commit its snapshot misses stays here.
        """
        self._floors[floor] += 1
        return Hold(self, floor)

    def _release(self, floor: int) -> None:
        self._floors[floor] -= 1
        if not self._floors[floor]:
            del self._floors[floor]
        self._drop_unneeded()

    def _drop_unneeded(self) -> None:
        floor = min(self._floors, default=self._durable_ts)
        while self._commits and self._commits[0].ts <= min(floor, self._durable_ts):
            self._commits.popleft()

    def between(self, after_ts: int, until_ts: int) -> Iterator[Commit]:
        """Commits above ``after_ts`` up to ``until_ts``, oldest first: all of them if ``after_ts`` is held."""
        for commit in self._commits:
            if commit.ts > until_ts:
                return
            if commit.ts > after_ts:
                yield commit

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


class Hold:
    """A reader's claim on the commits above ``floor`` (``RecentCommits.hold``); release it once, when done."""

    __slots__ = ("_log", "_released", "floor")

    def __init__(self, log: RecentCommits, floor: int) -> None:
        self._log = log
        self.floor = floor
        self._released = False

    def release(self) -> None:
        """The reader no longer needs the commits; releasing again changes nothing."""
        if not self._released:
            self._released = True
            self._log._release(self.floor)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
