"""The commit log optimistic mutations are checked against: what it keeps, and its overlap test.

``first_conflict`` answers with a binary search per key; hypothesis checks it against the naive
overlap rule (``Commit.touches``) on random read sets and writes.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.database.read_set import Commit, DocumentWrite, Interval, ReadSet
from runtime.database.recent_commits import RecentCommits

KEYS = st.binary(max_size=2)


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    low, high = sorted((draw(KEYS), draw(KEYS)))
    return Interval(low, None if draw(st.booleans()) and draw(st.booleans()) else high)


def write(keys: list[tuple[int, bytes]], doc_id: str = "d") -> DocumentWrite:
    return DocumentWrite(10001, doc_id, None, {}, tuple(keys))


def no_search(*_: object) -> bool:
    return False


@given(
    reads=st.lists(st.tuples(st.integers(1, 2), intervals()), max_size=8),
    keys=st.lists(st.tuples(st.integers(1, 3), KEYS), min_size=1, max_size=4),
)
def test_a_conflict_is_exactly_an_overlap(reads: list[tuple[int, Interval]], keys: list[tuple[int, bytes]]) -> None:
    read_set = ReadSet()
    for index_id, interval in reads:
        read_set.add(index_id, interval)
    commit = Commit(5, (write(keys),))
    log = RecentCommits()
    log.add(commit)
    found = log.first_conflict(read_set, 4, no_search)
    assert (found is not None) == commit.touches(read_set)
    assert log.first_conflict(read_set, 5, no_search) is None  # at or before the snapshot: seen, not a conflict


def test_commits_are_kept_while_a_snapshot_older_than_them_is_held() -> None:
    read_set = ReadSet()
    read_set.add(1, Interval(b"a", b"b"))
    log = RecentCommits()
    with log.hold(10):
        log.add(Commit(11, (write([(1, b"a")]),)))
        log.durable(11)  # durable, but the holder read at 10
        assert log.first_conflict(read_set, 10, no_search) is not None
    log.durable(11)
    assert log.first_conflict(read_set, 10, no_search) is None  # no holder: dropped


def test_a_failed_group_leaves_no_commit_behind() -> None:
    read_set = ReadSet()
    read_set.add(1, Interval(b"a", None))
    log = RecentCommits()
    with log.hold(10):
        log.add(Commit(11, (write([(1, b"a")]),)))
        log.add(Commit(12, (write([(1, b"b")]),)))
        log.discard_after(11)
        found = log.first_conflict(read_set, 11, no_search)
    assert found is None


def test_a_hold_keeps_commits_until_it_is_released_once() -> None:
    log = RecentCommits()
    first, second = log.hold(10), log.hold(12)
    for ts in (11, 12, 13):
        log.add(Commit(ts, (write([(1, b"a")]),)))
    log.durable(13)
    assert [commit.ts for commit in log.between(10, 13)] == [11, 12, 13]
    first.release()
    first.release()  # a second release must not give up the other hold's commits
    assert [commit.ts for commit in log.between(10, 13)] == [13]
    assert [commit.ts for commit in log.between(12, 12)] == []  # only up to the ts asked for
    second.release()
    assert len(log) == 0


OPERATIONS = st.lists(
    st.one_of(
        st.just(("add",)),
        st.just(("durable",)),
        st.just(("hold",)),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.just(("fail",)),
    ),
    max_size=40,
)


@given(OPERATIONS)
def test_the_log_holds_exactly_the_undurable_commits_and_those_above_a_held_floor(operations: list[tuple]) -> None:
    log = RecentCommits()
    made: list[int] = []  # timestamps of the commits made and not discarded
    durable_ts, next_ts = 0, 1
    holds = []
    for operation in operations:
        if operation[0] == "add":
            log.add(Commit(next_ts, (write([(1, b"a")]),)))
            made.append(next_ts)
            next_ts += 1
        elif operation[0] == "durable":
            durable_ts = made[-1] if made else durable_ts
            log.durable(durable_ts)
        elif operation[0] == "hold":
            holds.append(log.hold(durable_ts))  # readers hold at the last durable commit, as the callers do
        elif operation[0] == "release" and holds:
            holds.pop(operation[1] % len(holds)).release()
        elif operation[0] == "fail":
            log.discard_after(durable_ts)  # the group not yet durable failed
            made = [ts for ts in made if ts <= durable_ts]
        floor = min([hold.floor for hold in holds] + [durable_ts])
        assert [commit.ts for commit in log.between(0, next_ts)] == [ts for ts in made if ts > floor]
