"""Read sets and write sets: what a query records, what a commit reports, and that the overlap
test agrees with whether a query's result really changed (convex-semantics §5.1–§5.3)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.database.database import Database
from runtime.database.read_set import Commit, Interval, ReadSet
from runtime.functions.app_loader import load_app
from runtime.functions.executor import Executor
from runtime.store.catalog import IndexInfo
from runtime.values.keys import encode_key, encode_value
from runtime.values.values import UNDEFINED
from tests.store_fixtures import Stores, reset_postgres
from tests.strategies import bit_exact_equal

APP = load_app(Path(__file__).parent / "apps" / "core")


def index(executor: Executor, name: str, table: str = "items") -> IndexInfo:
    catalog = executor.database.catalog
    found = catalog.index(catalog.table_numbers[table], name)
    assert found is not None
    return found


def after(key: bytes) -> bytes:
    """The exclusive upper end of an interval that includes ``key``."""
    return key + b"\x00"


async def insert_items(executor: Executor, *values: dict[str, Any]) -> list[dict[str, Any]]:
    steps = [{"op": "insert", "table": "items", "value": value} for value in values]
    ids = await executor.call("db:apply", {"steps": steps})
    return [await executor.call("db:get", {"id": doc_id}) for doc_id in ids]


async def read_set_of(executor: Executor, path: str, args: dict[str, Any]) -> ReadSet:
    result = await executor.run(path, args)
    assert result.ok and result.read_set is not None, result.error
    return result.read_set


# --- what queries record -------------------------------------------------------------------------


async def test_get_records_a_point_on_by_id_even_for_a_missing_document(core: Executor) -> None:
    [document] = await insert_items(core, {"a": 1})
    by_id = index(core, "by_id")
    point = Interval(encode_value(document["_id"]), after(encode_value(document["_id"])))
    assert (await read_set_of(core, "db:get", {"id": document["_id"]})).intervals == {by_id.index_id: [point]}
    await core.call("db:apply", {"steps": [{"op": "delete", "id": document["_id"]}]})
    assert (await read_set_of(core, "db:get", {"id": document["_id"]})).intervals == {by_id.index_id: [point]}


async def test_reads_of_a_table_that_does_not_exist_record_nothing(core: Executor) -> None:
    assert (await read_set_of(core, "db:select", {"table": "nothing_here"})).intervals == {}


async def test_an_exhausted_index_scan_records_its_whole_range(core: Executor) -> None:
    await insert_items(core, {"a": 1}, {"a": 1}, {"a": 2})
    by_a = index(core, "by_a")
    prefix = encode_key([1])
    expected = Interval(prefix, prefix + b"\xff")  # every key whose first value is exactly 1
    for order in ("asc", "desc"):
        spec = {"table": "items", "index": "by_a", "range": [{"op": "eq", "field": "a", "value": 1}], "order": order}
        assert (await read_set_of(core, "db:select", spec)).intervals == {by_a.index_id: [expected]}


async def test_take_and_first_record_only_up_to_the_last_row_pulled(core: Executor) -> None:
    documents = await insert_items(core, *({"a": i} for i in range(5)))
    by_a = index(core, "by_a")
    keys = [by_a.key_of(document) for document in documents]
    take_two = await read_set_of(core, "db:select", {"table": "items", "index": "by_a", "terminal": "take", "n": 2})
    assert take_two.intervals == {by_a.index_id: [Interval(b"", after(keys[1]))]}
    first_desc = await read_set_of(
        core, "db:select", {"table": "items", "index": "by_a", "order": "desc", "terminal": "first"}
    )
    assert first_desc.intervals == {by_a.index_id: [Interval(keys[4], None)]}
    bounded = {
        "table": "items",
        "index": "by_a",
        "range": [{"op": "gte", "field": "a", "value": 1}],
        "terminal": "first",
    }
    assert (await read_set_of(core, "db:select", bounded)).intervals == {
        by_a.index_id: [Interval(encode_key([1]), after(keys[1]))]
    }


async def test_a_filter_does_not_narrow_the_scanned_range(core: Executor) -> None:
    documents = await insert_items(core, {"a": 1}, {"a": 2}, {"a": 1}, {"a": 2})
    by_creation = index(core, "by_creation_time")
    only_ones = [{"op": "eq", "field": "a", "value": 1}]
    everything = await read_set_of(core, "db:select", {"table": "items", "filters": only_ones})
    assert everything.intervals == {by_creation.index_id: [Interval(b"", None)]}
    # first() with a filter covers every row it had to look at, rejected ones included.
    second_one = await read_set_of(
        core, "db:select", {"table": "items", "filters": only_ones, "terminal": "take", "n": 2}
    )
    assert second_one.intervals == {by_creation.index_id: [Interval(b"", after(by_creation.key_of(documents[2])))]}


async def test_a_page_records_from_its_cursor_to_its_continue_cursor(core: Executor) -> None:
    documents = await insert_items(core, *({"a": i} for i in range(6)))
    by_a = index(core, "by_a")
    keys = [by_a.key_of(document) for document in documents]
    spec = {"table": "items", "index": "by_a", "terminal": "paginate"}
    first = await core.run("db:select", {**spec, "opts": {"numItems": 2, "cursor": None}})
    assert first.read_set is not None and first.read_set.intervals == {by_a.index_id: [Interval(b"", after(keys[1]))]}
    second = await core.run("db:select", {**spec, "opts": {"numItems": 2, "cursor": first.value["continueCursor"]}})
    assert second.read_set is not None
    assert second.read_set.intervals == {by_a.index_id: [Interval(after(keys[1]), after(keys[3]))]}
    last = await core.run("db:select", {**spec, "opts": {"numItems": 9, "cursor": second.value["continueCursor"]}})
    assert last.read_set is not None and last.read_set.intervals == {by_a.index_id: [Interval(after(keys[3]), None)]}


async def test_a_mutation_records_its_reads_and_its_writes_own_ids(core: Executor) -> None:
    [document] = await insert_items(core, {"a": 1})
    result = await core.run("db:apply", {"steps": [{"op": "patch", "id": document["_id"], "value": {"a": 2}}]})
    by_id = index(core, "by_id")
    point = Interval(encode_value(document["_id"]), after(encode_value(document["_id"])))
    assert result.read_set is not None and result.read_set.intervals == {by_id.index_id: [point]}


# --- what commits report -------------------------------------------------------------------------


async def test_a_commit_lists_old_and_new_keys_under_every_index(core: Executor) -> None:
    commits: list[Commit] = []
    core.database.add_commit_listener(commits.extend)
    [document] = await insert_items(core, {"a": 1, "b": 1, "n": {"x": 1}})
    patched = await core.run(
        "db:apply",
        {"steps": [{"op": "patch", "id": document["_id"], "value": {"a": 2}}, {"op": "get", "id": document["_id"]}]},
    )
    new = patched.value[1]
    [commit] = [commit for commit in commits if commit.ts == patched.ts]
    [write] = commit.writes
    assert (write.doc_id, write.old, write.new) == (document["_id"], document, new)
    indexes = [index(core, name) for name in ("by_creation_time", "by_a", "by_a_b", "by_nx")]
    expected = {(index(core, "by_id").index_id, encode_value(document["_id"]))}
    for info in indexes:
        expected |= {(info.index_id, info.key_of(document)), (info.index_id, info.key_of(new))}
    assert set(write.keys) == expected
    # An update that changes nothing is not a write, and a document created and removed in one
    # mutation never existed for anyone else.
    before = len(commits)
    same = await core.run("db:apply", {"steps": [{"op": "patch", "id": document["_id"], "value": {"a": 2}}]})
    transient = await core.run(
        "db:apply", {"steps": [{"op": "insert", "table": "items", "value": {}}, {"op": "delete", "ref": 0}]}
    )
    assert same.ok and transient.ok and len(commits) == before


# --- overlap agrees with a changed result --------------------------------------------------------

small = st.sampled_from([UNDEFINED, 0, 1, 2, "x"])


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    fields = {"a": draw(small), "b": draw(small)}
    return {name: value for name, value in fields.items() if value is not UNDEFINED}


@st.composite
def reads(draw: st.DrawFn) -> dict[str, Any]:
    """A query of ``items`` (range, order, terminal, maybe filters) or a ``get`` of the i-th document."""
    if draw(st.integers(0, 5)) == 0:
        return {"get": draw(st.integers(0, 5))}
    index = draw(st.sampled_from(["by_creation_time", "by_a", "by_a_b"]))
    spec: dict[str, Any] = {"table": "items", "index": index, "range": []}
    if index != "by_creation_time" and draw(st.booleans()):
        value = draw(small)
        op = draw(st.sampled_from(["eq", "gt", "gte", "lt", "lte"]))
        spec["range"] = [{"op": op, "field": "a"} if value is UNDEFINED else {"op": op, "field": "a", "value": value}]
    spec["order"] = draw(st.sampled_from(["asc", "desc"]))
    spec["terminal"] = draw(st.sampled_from(["collect", "take", "first"]))
    spec["n"] = draw(st.integers(1, 3))
    if draw(st.integers(0, 3)) == 0:
        spec["filters"] = [{"op": "neq", "field": "b", "value": draw(small.filter(lambda v: v is not UNDEFINED))}]
    return spec


writes = st.one_of(
    st.tuples(st.just("insert"), st.just(0), documents()),
    st.tuples(st.sampled_from(["patch", "replace"]), st.integers(0, 5), documents()),
    st.tuples(st.just("delete"), st.integers(0, 5), st.just({})),
)


async def touches_iff_changed(
    initial: list[dict[str, Any]],
    read: dict[str, Any],
    write: tuple[str, int, dict[str, Any]],
    database_url: str | None = None,
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="opencom-readsets-"))
    if database_url is not None:
        reset_postgres(database_url)
    executor = Executor(APP, Database(directory, APP.schema, synchronous="OFF", database_url=database_url))
    try:
        commits: list[Commit] = []
        executor.database.add_commit_listener(commits.extend)
        ids = await executor.call(
            "db:apply", {"steps": [{"op": "insert", "table": "items", "value": doc} for doc in initial]}
        )
        if "get" in read:
            path, args = "db:get", {"id": ids[read["get"] % len(ids)] if ids else "x"}
            if not ids:
                return
        else:
            path, args = "db:select", read
        before = await executor.run(path, args)
        assert before.ok and before.read_set is not None
        op, target, value = write
        if op != "insert" and not ids:
            op = "insert"
        step = (
            {"op": op, "table": "items", "value": value}
            if op == "insert"
            else {"op": op, "id": ids[target % len(ids)], "value": value}
        )
        seen = len(commits)
        (await executor.run("db:apply", {"steps": [step]})).unwrap()
        touched = any(commit.touches(before.read_set) for commit in commits[seen:])
        changed = not bit_exact_equal((await executor.run(path, args)).value, before.value)
        if changed:
            assert touched, "the result changed but the commit does not overlap the read set"
        if not read.get("filters"):
            assert touched == changed, (
                "the commit overlaps the read set of an unfiltered read whose result did not change"
            )
    finally:
        await executor.close()
        shutil.rmtree(directory, ignore_errors=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(documents(), max_size=6), read=reads(), write=writes)
def test_a_commit_touches_a_read_set_when_the_result_changes(
    initial: list[dict[str, Any]], read: dict[str, Any], write: tuple[str, int, dict[str, Any]]
) -> None:
    asyncio.run(touches_iff_changed(initial, read, write))


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_read_sets_hold_on_postgresql(store_kind: Stores, tmp_path: Path) -> None:
    url = store_kind.url_for(tmp_path)

    # Fewer examples than on SQLite: each one empties and re-creates the PostgreSQL schema.
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(initial=st.lists(documents(), max_size=6), read=reads(), write=writes)
    def check(initial: list[dict[str, Any]], read: dict[str, Any], write: tuple[str, int, dict[str, Any]]) -> None:
        asyncio.run(touches_iff_changed(initial, read, write, url))

    check()
