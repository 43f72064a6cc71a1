"""``paginate``: cursors, no look-ahead, end cursors and the query journal, splits and read limits
(convex-semantics §3.12, §5.5)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.functions.executor import Executor, FunctionResult
from tests.store_fixtures import BOTH_STORES

pytestmark = BOTH_STORES


async def insert_items(executor: Executor, *values: dict[str, Any]) -> list[str]:
    steps = [{"op": "insert", "table": "items", "value": value} for value in values]
    return await executor.call("db:apply", {"steps": steps})


async def page(
    executor: Executor, spec: dict[str, Any] | None = None, *, journal: str | None = None, **options: Any
) -> FunctionResult:
    """One page of ``items`` (or the query ``spec`` describes); ``cursor`` defaults to the start."""
    options.setdefault("cursor", None)
    options.setdefault("numItems", 2)
    args = {"table": "items", **(spec or {}), "terminal": "paginate", "opts": options}
    result = await executor.run("db:select", args, journal=journal)
    assert result.ok, result.error
    return result


def values(result: FunctionResult, name: str = "a") -> list[Any]:
    return [document.get(name) for document in result.value["page"]]


BY_A = {"index": "by_a"}


async def test_pages_tile_the_index_without_look_ahead(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(4)))
    first = await page(core)
    assert (values(first), first.value["isDone"], first.value["pageStatus"]) == ([0, 1], False, None)
    second = await page(core, cursor=first.value["continueCursor"])
    # The page filled up on the last row: no look-ahead, so not done yet.
    assert (values(second), second.value["isDone"]) == ([2, 3], False)
    third = await page(core, cursor=second.value["continueCursor"])
    assert (values(third), third.value["isDone"]) == ([], True)
    # The end cursor stays the end, even after new rows arrive.
    await insert_items(core, {"a": 99})
    again = await page(core, cursor=third.value["continueCursor"])
    assert (values(again), again.value["isDone"], again.value["continueCursor"]) == (
        [],
        True,
        third.value["continueCursor"],
    )


async def test_descending_pages(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(5)))
    seen: list[Any] = []
    cursor = None
    while True:
        result = await page(core, {"order": "desc"}, cursor=cursor, numItems=2)
        seen += values(result)
        cursor = result.value["continueCursor"]
        if result.value["isDone"]:
            break
    assert seen == [4, 3, 2, 1, 0]


async def test_an_empty_table_is_done_at_once(core: Executor) -> None:
    assert await insert_items(core) == []
    result = await page(core)
    assert (values(result), result.value["isDone"]) == ([], True)


@pytest.mark.parametrize(
    "other",
    [
        {"order": "desc"},
        {"index": "by_a"},
        {"index": "by_creation_time", "range": [{"op": "gt", "field": "_creationTime", "value": 0.0}]},
        {"filters": [{"op": "eq", "field": "a", "value": 1}]},
        {"table": "notes"},
    ],
)
async def test_a_cursor_from_another_query_is_rejected(core: Executor, other: dict[str, Any]) -> None:
    await insert_items(core, *({"a": i} for i in range(4)))
    cursor = (await page(core)).value["continueCursor"]
    for options in ({"cursor": cursor}, {"cursor": None, "endCursor": cursor}):
        args = {"table": "items", **other, "terminal": "paginate", "opts": {"numItems": 2, **options}}
        result = await core.run("db:select", args)
        assert "InvalidCursor" in str(result.error)
        assert result.error.data == {"isConvexSystemError": True, "paginationError": "InvalidCursor"}  # type: ignore[union-attr]


async def test_a_cursor_stays_valid_after_its_document_is_deleted(core: Executor) -> None:
    ids = await insert_items(core, *({"a": i} for i in range(4)))
    first = await page(core)
    await core.call("db:apply", {"steps": [{"op": "delete", "id": ids[1]}]})
    assert values(await page(core, cursor=first.value["continueCursor"])) == [2, 3]


async def test_continue_cursor_is_the_last_scanned_row_even_when_filtered_out(core: Executor) -> None:
    await insert_items(core, {"a": 1}, {"a": 0}, {"a": 0}, {"a": 1})
    only_ones = {"filters": [{"op": "eq", "field": "a", "value": 1}]}
    first = await page(core, only_ones, numItems=1)
    assert values(first) == [1]
    second = await page(core, only_ones, numItems=1, cursor=first.value["continueCursor"])
    assert values(second) == [1]
    assert (await page(core, only_ones, numItems=1, cursor=second.value["continueCursor"])).value["isDone"]


# --- end cursors and the journal ------------------------------------------------------------------


async def test_the_journal_keeps_a_page_covering_the_same_key_range(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in (0, 2, 4, 6, 8)))
    first = await page(core, BY_A, numItems=2)
    assert values(first) == [0, 2] and first.journal == first.value["continueCursor"]
    ids = await insert_items(core, {"a": 1}, {"a": 3})
    rerun = await page(core, BY_A, numItems=2, journal=first.journal)
    # The row inside the page's range joins it; the row after its end does not.
    assert values(rerun) == [0, 1, 2]
    assert (rerun.value["continueCursor"], rerun.value["isDone"]) == (first.value["continueCursor"], False)
    assert rerun.journal == first.journal
    explicit = await page(core, BY_A, numItems=2, endCursor=first.value["continueCursor"])
    assert explicit.value == rerun.value
    await core.call("db:apply", {"steps": [{"op": "delete", "id": ids[0]}]})
    assert values(await page(core, BY_A, numItems=2, journal=first.journal)) == [0, 2]
    # The next page starts right after the first one's end, so no row is lost or repeated.
    assert values(await page(core, BY_A, numItems=10, cursor=first.value["continueCursor"])) == [3, 4, 6, 8]


async def test_a_page_that_ran_to_the_end_keeps_growing(core: Executor) -> None:
    await insert_items(core, {"a": 0}, {"a": 1})
    first = await page(core, BY_A, numItems=5)
    assert first.value["isDone"]
    await insert_items(core, {"a": 7}, {"a": -1})
    rerun = await page(core, BY_A, numItems=5, journal=first.journal)
    assert values(rerun) == [-1, 0, 1, 7]
    assert rerun.value["isDone"] and rerun.value["continueCursor"] == first.value["continueCursor"]
    # Past numItems too: with an end, the page is exactly its range.
    await insert_items(core, *({"a": 10 + i} for i in range(5)))
    assert len(values(await page(core, BY_A, numItems=5, journal=first.journal))) == 9


async def test_a_newest_first_page_grows_with_newer_rows(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(5)))
    first = await page(core, {"order": "desc"}, numItems=2)
    assert values(first) == [4, 3]
    await insert_items(core, {"a": 5})
    assert values(await page(core, {"order": "desc"}, numItems=2, journal=first.journal)) == [5, 4, 3]


async def test_a_mutation_can_paginate_and_sees_its_own_writes(core: Executor) -> None:
    await insert_items(core, {"a": 1})
    steps = [
        {"op": "insert", "table": "items", "value": {"a": 0}},
        {
            "op": "select",
            "spec": {
                "table": "items",
                "index": "by_a",
                "terminal": "paginate",
                "opts": {"numItems": 5, "cursor": None},
            },
        },
    ]
    [_, result] = await core.call("db:apply", {"steps": steps})
    assert [doc["a"] for doc in result["page"]] == [0, 1] and result["isDone"]


# --- splits and read limits ---------------------------------------------------------------------


async def test_split_cursor_divides_a_page_in_two_tiles(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(6)))
    whole = await page(core, numItems=4)
    split = whole.value["splitCursor"]
    assert split is not None
    left = await page(core, endCursor=split)
    right = await page(core, cursor=split, endCursor=whole.value["continueCursor"])
    assert values(left) == [0, 1, 2] and values(right) == [3]
    assert (await page(core, numItems=2)).value["splitCursor"] is None


async def test_maximum_rows_read_ends_the_page_with_split_required(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(5)))
    nothing_matches = {"filters": [{"op": "eq", "field": "a", "value": "none"}]}
    result = await page(core, nothing_matches, numItems=10, maximumRowsRead=2)
    assert (values(result), result.value["isDone"], result.value["pageStatus"]) == ([], False, "SplitRequired")
    rows = await page(core, numItems=10, maximumRowsRead=3)
    assert (values(rows), rows.value["pageStatus"]) == ([0, 1, 2], "SplitRequired")
    rest = await page(core, numItems=10, maximumRowsRead=3, cursor=rows.value["continueCursor"])
    assert (values(rest), rest.value["isDone"], rest.value["pageStatus"]) == ([3, 4], True, None)


async def test_maximum_bytes_read_reads_at_least_one_row_per_page(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(5)))
    pages = []
    cursor = None
    for _ in range(10):
        result = await page(core, numItems=10, maximumBytesRead=1, cursor=cursor)
        pages.append(values(result))
        cursor = result.value["continueCursor"]
        if result.value["isDone"]:
            break
    assert pages == [[0], [1], [2], [3], [4], []]


async def test_a_page_close_to_its_row_limit_recommends_a_split(core: Executor) -> None:
    await insert_items(core, *({"a": i} for i in range(8)))
    result = await page(core, numItems=7, maximumRowsRead=8)
    assert (len(values(result)), result.value["pageStatus"]) == (7, "SplitRecommended")


async def test_each_nested_query_may_paginate_once(core: Executor) -> None:
    await insert_items(core, {"a": 1})
    assert await core.call("pages:with_nested_page") == [1, 0]
