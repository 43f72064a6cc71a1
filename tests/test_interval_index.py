"""The interval index agrees with the naive model: an owner is found exactly when one of its
registered intervals holds the key, through any sequence of registrations and removals."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from runtime.database.read_set import Interval, point_interval
from runtime.server.interval_index import IntervalIndex, Registration

# A tiny alphabet makes shared prefixes, equal bounds and point intervals common.
keys = st.binary(max_size=3).map(lambda raw: bytes(byte % 3 for byte in raw))
intervals = st.one_of(
    keys.map(point_interval),
    st.tuples(keys, st.one_of(st.none(), keys)).map(lambda bounds: Interval(*bounds)),
)
read_sets = st.dictionaries(st.sampled_from([1, 2]), st.lists(intervals, max_size=4), max_size=2)


def naive(registered: dict[int, tuple[str, dict[int, list[Interval]]]], index_id: int, key: bytes) -> set[str]:
    return {
        owner
        for owner, read_set in registered.values()
        if any(interval.contains(key) for interval in read_set.get(index_id, ()))
    }


class IntervalIndexModel(RuleBasedStateMachine):
    """Random adds and removes, checked after every step against a brute-force scan."""

    registrations = Bundle("registrations")

    def __init__(self) -> None:
        super().__init__()
        self.index: IntervalIndex[str] = IntervalIndex()
        self.registered: dict[int, tuple[str, dict[int, list[Interval]]]] = {}
        self.probes: list[tuple[int, bytes]] = [(1, b""), (2, b"\x01")]

    @rule(target=registrations, owner=st.sampled_from("abcd"), read_set=read_sets)
    def add(self, owner: str, read_set: dict[int, list[Interval]]) -> Registration[str]:
        registration = self.index.add(owner, read_set)
        self.registered[id(registration)] = (owner, read_set)
        for index_id, listed in read_set.items():
            for interval in listed:
                self.probes.append((index_id, interval.low))
                if interval.high is not None:
                    self.probes.append((index_id, interval.high))
        return registration

    @rule(registration=registrations)
    def remove(self, registration: Registration[str]) -> None:
        if id(registration) in self.registered:
            self.index.remove(registration)
            del self.registered[id(registration)]

    @rule(index_id=st.sampled_from([1, 2]), key=keys)
    def probe(self, index_id: int, key: bytes) -> None:
        self.probes.append((index_id, key))

    @invariant()
    def agrees_with_the_naive_scan(self) -> None:
        for index_id, key in self.probes[-24:]:
            assert set(self.index.owners_at(index_id, key)) == naive(self.registered, index_id, key), (index_id, key)

    @invariant()
    def counts_every_nonempty_interval(self) -> None:
        expected = sum(
            1
            for _, read_set in self.registered.values()
            for listed in read_set.values()
            for interval in listed
            if interval.high is None or interval.low < interval.high
        )
        assert len(self.index) == expected


IntervalIndexModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestIntervalIndexModel = IntervalIndexModel.TestCase


@given(st.lists(st.tuples(intervals, st.sampled_from("xyz")), max_size=60), st.lists(keys, max_size=20))
@settings(max_examples=100, deadline=None)
def test_a_stabbing_query_finds_exactly_the_intervals_holding_the_key(
    entries: list[tuple[Interval, str]], probes: list[bytes]
) -> None:
    index: IntervalIndex[str] = IntervalIndex()
    for interval, owner in entries:
        index.add(owner, {7: [interval]})
    for key in probes + [interval.low for interval, _ in entries]:
        expected = {owner for interval, owner in entries if interval.contains(key)}
        assert set(index.owners_at(7, key)) == expected


def test_removing_a_registration_takes_out_exactly_its_intervals() -> None:
    index: IntervalIndex[str] = IntervalIndex()
    registration = index.add("q", {1: [Interval(b"a", b"c"), Interval(b"b", None), point_interval(b"b")]})
    kept = index.add("r", {1: [point_interval(b"b")]})
    assert set(index.owners_at(1, b"b")) == {"q", "r"} and set(index.owners_at(1, b"z")) == {"q"}
    assert index.owners_at(2, b"b") == []
    index.remove(registration)
    assert index.owners_at(1, b"b") == ["r"] and index.owners_at(1, b"z") == [] and len(index) == 1
    index.remove(kept)
    assert index.owners_at(1, b"b") == [] and len(index) == 0
