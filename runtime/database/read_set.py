"""What a transaction read and what a commit wrote, as data the subscription layer consumes.

A read set is, per index, a list of half-open byte intervals ``[low, high)`` over index keys
(``high is None`` means "to the end of the index"). A write set lists, per changed document,
its old and new index keys under every index of its table. A commit overlaps a read set exactly
when one of those keys falls inside one of the intervals of the same index (convex-semantics §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Interval:
    """Keys ``k`` with ``low <= k < high`` (``high is None``: unbounded above)."""

    low: bytes
    high: bytes | None

    def contains(self, key: bytes) -> bool:
        return self.low <= key and (self.high is None or key < self.high)


def point_interval(key: bytes) -> Interval:
    """The interval holding exactly ``key`` (nothing sorts between ``key`` and ``key + 0x00``)."""
    return Interval(key, key + b"\x00")


@dataclass(frozen=True, slots=True)
class SearchRead:
    """A text-search read: written documents that match it overlap it (see ``search.py``)."""

    table_number: int
    index_name: str
    terms: tuple[str, ...]
    prefix_last: bool
    filters: tuple[tuple[str, Any], ...]


@dataclass(slots=True)
class ReadSet:
    """Index intervals (and search reads) one function execution observed."""

    intervals: dict[int, list[Interval]] = field(default_factory=dict)
    searches: list[SearchRead] = field(default_factory=list)

    def add(self, index_id: int, interval: Interval) -> None:
        self.intervals.setdefault(index_id, []).append(interval)

    def merge(self, other: ReadSet) -> None:
        for index_id, intervals in other.intervals.items():
            self.intervals.setdefault(index_id, []).extend(intervals)
        self.searches.extend(other.searches)

    def interval_count(self) -> int:
        return sum(len(intervals) for intervals in self.intervals.values())

    def overlaps_key(self, index_id: int, key: bytes) -> bool:
        return any(interval.contains(key) for interval in self.intervals.get(index_id, ()))


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One document's change in a commit: ``old`` None for an insert, ``new`` None for a delete."""

    table_number: int
    doc_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    # (index id, key) for the old and the new version under every index of the table.
    keys: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class Commit:
    """A committed mutation: its timestamp and what it changed, in order."""

    ts: int
    writes: tuple[DocumentWrite, ...]

    def touches(self, read_set: ReadSet) -> bool:
        """Naive overlap test; the subscription layer uses an interval index instead."""
        return any(read_set.overlaps_key(index_id, key) for write in self.writes for index_id, key in write.keys)
