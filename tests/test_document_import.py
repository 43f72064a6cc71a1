"""``Database.import_documents`` and ``Database.change_schema``: bulk loads and live schema changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime import define_schema, define_table, v
from runtime.database.document_import import ImportRejectedError
from runtime.database.schema_change import SchemaChangeError
from runtime.functions.executor import Executor
from runtime.values.ids import decode_id, new_id

APP = {
    "schema.py": """
        from runtime import define_schema, define_table, v

        schema = define_schema({"notes": define_table({"text": v.string()}).index("by_text", ["text"])})
    """,
    "functions/notes.py": """
        from runtime import mutation, query

        @query
        async def by_text(ctx, args):
            return [note["text"] for note in await ctx.db.query("notes").with_index("by_text").collect()]

        @mutation
        async def add(ctx, args):
            return await ctx.db.insert("notes", {"text": args["text"]})
    """,
}


@pytest.fixture
def notes(make_app: Callable[[dict[str, str]], Path], open_executor: Callable[..., Executor]) -> Executor:
    return open_executor(make_app(APP))


async def test_documents_keep_their_ids_and_creation_times_and_are_indexed(notes: Executor) -> None:
    number = notes.database.catalog.table_numbers["notes"]
    rows = [{"_id": new_id(number), "_creationTime": 1000.0 + index, "text": text} for index, text in enumerate("cab")]
    result = await notes.database.import_documents({"notes": rows})
    assert result.value == {"notes": 3}
    assert await notes.call("notes:by_text") == ["a", "b", "c"]
    later = await notes.call("notes:add", {"text": "d"})
    assert await notes.call("notes:by_text") == ["a", "b", "c", "d"]
    assert decode_id(later)[0] == number


async def test_one_bad_document_means_nothing_is_written(notes: Executor) -> None:
    with pytest.raises(ImportRejectedError, match="document 2"):
        await notes.database.import_documents({"notes": [{"text": "fine"}, {"text": 5}], "other": [{"x": 1.0}]})
    assert await notes.call("notes:by_text") == []
    assert "other" not in notes.database.catalog.table_numbers


async def test_a_new_table_takes_the_number_its_ids_encode(notes: Executor) -> None:
    foreign = new_id(10_042)
    await notes.database.import_documents({"archive": [{"_id": foreign, "n": 1.0}]})
    assert notes.database.catalog.table_numbers["archive"] == 10_042


async def test_ids_of_a_number_taken_by_another_table_are_refused(notes: Executor) -> None:
    taken = notes.database.catalog.table_numbers["notes"]
    with pytest.raises(ImportRejectedError, match="which is table 'notes'"):
        await notes.database.import_documents({"archive": [{"_id": new_id(taken), "n": 1.0}]})


async def test_append_refuses_an_id_that_exists(notes: Executor) -> None:
    existing = await notes.call("notes:add", {"text": "x"})
    with pytest.raises(ImportRejectedError, match="already has a document"):
        await notes.database.import_documents({"notes": [{"_id": existing, "text": "y"}]}, mode="append")


async def test_a_schema_the_stored_documents_violate_is_refused(notes: Executor) -> None:
    note_id = await notes.call("notes:add", {"text": "x"})
    stricter = define_schema({"notes": define_table({"text": v.string(), "rank": v.float64()})})
    with pytest.raises(SchemaChangeError) as refused:
        await notes.database.change_schema(stricter)
    [violation] = refused.value.violations
    assert (violation.table, violation.document_id, violation.field) == ("notes", note_id, "rank")
    assert notes.database.catalog.index(notes.database.catalog.table_numbers["notes"], "by_text") is not None
    await notes.call("notes:add", {"text": "the old schema still applies"})


async def test_a_fitting_schema_change_installs_its_indexes(notes: Executor) -> None:
    await notes.call("notes:add", {"text": "x"})
    wider = define_schema(
        {"notes": define_table({"text": v.string(), "rank": v.optional(v.float64())}).index("by_rank", ["rank"])}
    )
    await notes.database.change_schema(wider)
    catalog = notes.database.catalog
    number = catalog.table_numbers["notes"]
    assert catalog.index(number, "by_rank") is not None and catalog.index(number, "by_text") is None
    assert notes.database.schema is wider  # later writes validate against it
