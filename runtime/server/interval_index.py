"""Which live read sets hold a key: the structure that makes invalidation cost grow with hits.

After each commit, every old and new index key of every written document is looked up here, and
only the owners (subscriptions) whose recorded intervals contain it come back. A lookup costs a
logarithmic walk plus the owners found, never a pass over every subscription.

Per database index there are two structures:

- point intervals (``db.get`` reads, the most common kind) in a dict from key to owners;
- every other interval in a treap ordered by low bound, each node also holding the largest high
  bound below it, so a stabbing query skips any subtree whose intervals all end at or before the
  key, and any right subtree that starts after it.

Intervals are half-open ``[low, high)`` with ``high is None`` meaning unbounded, as in
``runtime.database.read_set``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runtime.database.read_set import Interval

Owner = TypeVar("Owner", bound=Hashable)


def _covers_above(high: bytes | None, key: bytes) -> bool:
    """Whether an interval ending at ``high`` (exclusive) still holds ``key``, given low <= key."""
    return high is None or key < high


def _later(left: bytes | None, right: bytes | None) -> bytes | None:
    """The larger of two high bounds, ``None`` (unbounded) being the largest."""
    if left is None or right is None:
        return None
    return left if left >= right else right


class _Node(Generic[Owner]):
    __slots__ = ("low", "seq", "high", "owner", "priority", "left", "right", "max_high")

    def __init__(self, low: bytes, seq: int, high: bytes | None, owner: Owner) -> None:
        self.low = low
        self.seq = seq  # ties between equal low bounds, so every node has a distinct position
        self.high = high
        self.owner = owner
        self.priority = random.random()
        self.left: _Node[Owner] | None = None
        self.right: _Node[Owner] | None = None
        self.max_high: bytes | None = high  # invariant: the largest ``high`` in this subtree

    def refresh(self) -> None:
        highest = self.high
        if self.left is not None:
            highest = _later(highest, self.left.max_high)
        if self.right is not None:
            highest = _later(highest, self.right.max_high)
        self.max_high = highest


def _merge(left: _Node[Owner] | None, right: _Node[Owner] | None) -> _Node[Owner] | None:
    """Join two treaps where every position in ``left`` precedes every position in ``right``."""
    if left is None:
        return right
    if right is None:
        return left
    if left.priority > right.priority:
        left.right = _merge(left.right, right)
        left.refresh()
        return left
    right.left = _merge(left, right.left)
    right.refresh()
    return right


def _split(node: _Node[Owner] | None, low: bytes, seq: int) -> tuple[_Node[Owner] | None, _Node[Owner] | None]:
    """Split into positions before ``(low, seq)`` and positions at or after it."""
    if node is None:
        return None, None
    if (node.low, node.seq) < (low, seq):
        node.right, after = _split(node.right, low, seq)
        node.refresh()
        return node, after
    before, node.left = _split(node.left, low, seq)
    node.refresh()
    return before, node


def _insert(node: _Node[Owner] | None, new: _Node[Owner]) -> _Node[Owner]:
    """``node``'s treap with ``new`` in it: only the subtree ``new`` comes to head is split."""
    if node is None:
        return new
    if new.priority > node.priority:
        new.left, new.right = _split(node, new.low, new.seq)
        new.refresh()
        return new
    if (new.low, new.seq) < (node.low, node.seq):
        node.left = _insert(node.left, new)
    else:
        node.right = _insert(node.right, new)
    if node.max_high is not None and (new.high is None or new.high > node.max_high):
        node.max_high = new.high
    return node


def _remove(node: _Node[Owner] | None, low: bytes, seq: int) -> _Node[Owner] | None:
    if node is None:
        raise KeyError((low, seq))
    if node.low == low and node.seq == seq:
        return _merge(node.left, node.right)
    if (low, seq) < (node.low, node.seq):
        node.left = _remove(node.left, low, seq)
    else:
        node.right = _remove(node.right, low, seq)
    node.refresh()
    return node


def _stab(node: _Node[Owner] | None, key: bytes, found: list[Owner]) -> None:
    while node is not None and _covers_above(node.max_high, key):
        _stab(node.left, key, found)
        if node.low > key:
            return  # this node and everything to its right start after the key
        if _covers_above(node.high, key):
            found.append(node.owner)
        node = node.right


@dataclass(slots=True)
class Registration(Generic[Owner]):
    """What ``IntervalIndex.add`` stored for one owner, so ``remove`` can take exactly that out."""

    owner: Owner
    points: list[tuple[int, bytes]] = field(default_factory=list)
    ranges: list[tuple[int, bytes, int]] = field(default_factory=list)


class IntervalIndex(Generic[Owner]):
    """Maps (database index, key) to the owners whose registered intervals contain that key."""

    def __init__(self) -> None:
        self._points: dict[int, dict[bytes, dict[Owner, int]]] = {}
        self._trees: dict[int, _Node[Owner] | None] = {}
        self._sequence = itertools.count()
        self._size = 0

    def __len__(self) -> int:
        """How many intervals are registered (an owner's duplicates count separately)."""
        return self._size

    def add(self, owner: Owner, intervals: Mapping[int, Iterable[Interval]]) -> Registration[Owner]:
        """Register every interval of ``intervals`` (index id → intervals) for ``owner``."""
        registration: Registration[Owner] = Registration(owner)
        for index_id, index_intervals in intervals.items():
            for interval in index_intervals:
                low, high = interval.low, interval.high
                if high is not None and high == low + b"\x00":
                    owners = self._points.setdefault(index_id, {}).setdefault(low, {})
                    owners[owner] = owners.get(owner, 0) + 1
                    registration.points.append((index_id, low))
                elif high is None or low < high:
                    seq = next(self._sequence)
                    self._trees[index_id] = _insert(self._trees.get(index_id), _Node(low, seq, high, owner))
                    registration.ranges.append((index_id, low, seq))
                else:
                    continue  # an empty interval holds no key
                self._size += 1
        return registration

    def remove(self, registration: Registration[Owner]) -> None:
        """Take out everything one ``add`` registered."""
        owner = registration.owner
        for index_id, key in registration.points:
            by_key = self._points[index_id]
            owners = by_key[key]
            if owners[owner] == 1:
                del owners[owner]
                if not owners:
                    del by_key[key]
                    if not by_key:
                        del self._points[index_id]
            else:
                owners[owner] -= 1
        for index_id, low, seq in registration.ranges:
            tree = _remove(self._trees[index_id], low, seq)
            if tree is None:
                del self._trees[index_id]
            else:
                self._trees[index_id] = tree
        self._size -= len(registration.points) + len(registration.ranges)
        registration.points.clear()
        registration.ranges.clear()

    def owners_at(self, index_id: int, key: bytes) -> list[Owner]:
        """Every owner with an interval of ``index_id`` holding ``key`` (an owner may repeat)."""
        found: list[Owner] = []
        points = self._points.get(index_id)
        if points is not None:
            owners = points.get(key)
            if owners:
                found.extend(owners)
        tree = self._trees.get(index_id)
        if tree is not None:
            _stab(tree, key, found)
        return found
