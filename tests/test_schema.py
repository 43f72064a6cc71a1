"""Schemas: definition-time rules (§3.8, §9) and the messages of document validation (§2.4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from runtime.values import ids
from runtime.values.errors import SchemaValidationError
from runtime.values.schema import (
    IndexDefinition,
    SchemaDefinition,
    SchemaDefinitionError,
    SearchIndexDefinition,
    TableDefinition,
    VectorIndexDefinition,
    define_schema,
    define_table,
)
from runtime.values.validators import v


class FakeTables:
    def table_name(self, table_number: int) -> str | None:
        return {10001: "users", 10002: "messages"}.get(table_number)


TABLES = FakeTables()
USER_ID = ids.encode_id(10001, bytes(16))
MESSAGE_ID = ids.encode_id(10002, bytes(16))


def chat_schema(**options: Any) -> SchemaDefinition:
    return define_schema(
        {
            "users": define_table({"name": v.string(), "karma": v.optional(v.float64())}).index("by_name", ["name"]),
            "messages": define_table(
                {"author": v.id("users"), "body": v.string(), "meta": v.object({"channel": v.string()})}
            )
            .index("by_author", ["author"])
            .index("by_channel", ["meta.channel", "author"])
            .search_index("search_body", search_field="body", filter_fields=["author"]),
        },
        **options,
    )


def rejected(document: dict[str, Any], table: str = "messages", schema: SchemaDefinition | None = None) -> str:
    with pytest.raises(SchemaValidationError) as caught:
        (schema or chat_schema()).validate_document(table, document, TABLES)
    return str(caught.value)


PREFIX = 'Failed to insert or update a document in table "messages" because it does not match the schema: '


# --- tables ----------------------------------------------------------------------------------


def test_define_table_with_a_dict_means_an_object() -> None:
    table = define_table({"name": v.string()})
    assert table.validator == v.object({"name": v.string()})


def test_index_methods_chain_and_record_definitions() -> None:
    table = define_table({"title": v.string(), "tag": v.string(), "embedding": v.array(v.float64())})
    assert table.index("by_tag", ["tag", "title"]) is table
    table.search_index("search_title", search_field="title", filter_fields=["tag", "tag"])
    table.vector_index("by_embedding", vector_field="embedding", dimensions=1536, filter_fields=["tag"])
    assert table.indexes == (IndexDefinition("by_tag", ("tag", "title")),)
    assert table.search_indexes == (SearchIndexDefinition("search_title", "title", ("tag",)),)
    assert table.vector_indexes == (VectorIndexDefinition("by_embedding", "embedding", 1536, ("tag",)),)


@pytest.mark.parametrize(
    "validator",
    [v.object({"a": v.string()}), v.union(v.object({"a": v.string()}), v.object({"b": v.int64()})), v.any()],
)
def test_documents_are_objects_unions_of_objects_or_any(validator: Any) -> None:
    define_table(validator)


def test_other_document_validators_are_rejected() -> None:
    with pytest.raises(SchemaDefinitionError) as caught:
        define_table(v.string())
    assert str(caught.value) == (
        "The document validator in a schema must be an object, a union of objects, or `v.any()`. Found "
        "v.string(). To learn more, see the schema documentation at https://docs.convex.dev/database/schemas."
    )
    with pytest.raises(SchemaDefinitionError, match=re.escape("Found v.array(")):
        define_table(v.union(v.object({}), v.array(v.string())))


def test_underscore_fields_are_reserved_but_system_fields_tolerated() -> None:
    with pytest.raises(SchemaDefinitionError, match="Field `_secret` starts with an underscore"):
        define_table({"_secret": v.string()})
    table = define_table({"_id": v.id("users"), "_creationTime": v.float64(), "name": v.string()})
    assert table.document_validator == v.object({"name": v.string()})


# --- indexes ---------------------------------------------------------------------------------


def index_error(build: Any) -> str:
    table = define_table({"a": v.string(), "b": v.string(), "v": v.array(v.float64())})
    with pytest.raises(SchemaDefinitionError) as caught:
        build(table)
    return str(caught.value)


def test_index_names_must_be_identifiers() -> None:
    assert index_error(lambda t: t.index("by-a", ["a"])) == (
        'Invalid index name: "by-a". Identifiers must be 64 characters or less, start with a letter, and only '
        "contain letters, digits, underscores."
    )
    assert "Invalid index name" in index_error(lambda t: t.index("x" * 65, ["a"]))


@pytest.mark.parametrize("name", ["by_id", "by_creation_time", "_by_a"])
def test_reserved_index_names(name: str) -> None:
    assert index_error(lambda t: t.index(name, ["a"])) == (
        f'Cannot name an index "{name}" because the name is reserved. Indexes may not start with an underscore '
        'or be named "by_id" or "by_creation_time".'
    )


def test_index_names_are_unique_across_kinds() -> None:
    message = 'Table has two or more definitions of index "by_a".'
    assert index_error(lambda t: t.index("by_a", ["a"]).index("by_a", ["b"])) == message
    assert index_error(lambda t: t.index("by_a", ["a"]).search_index("by_a", search_field="b")) == message


def test_index_fields() -> None:
    assert index_error(lambda t: t.index("by_x", [])) == 'Index "by_x" must have at least one field.'
    assert index_error(lambda t: t.index("by_x", ["a", "a"])) == (
        'In index "by_x": Duplicate field "a". Index fields must be unique within an index.'
    )
    assert index_error(lambda t: t.index("by_x", ["_id"])) == (
        'In index "by_x": `_id` is not a valid index field. To load documents by ID, use `db.get(id)`.'
    )
    assert index_error(lambda t: t.index("by_x", ["_creationTime"])).startswith(
        'In index "by_x": `_creationTime` is automatically added to the end of each index.'
    )
    assert index_error(lambda t: t.index("by_x", ["a._hidden"])) == (
        'In index "by_x": Reserved fields (starting with `_`) are not allowed in indexes.'
    )
    assert index_error(lambda t: t.index("by_x", ["a..b"])) == 'In index "by_x": Invalid index field: "a..b"'
    with pytest.raises(TypeError, match="must be a list of field paths"):
        define_table({"a": v.string()}).index("by_a", "a")


def test_at_most_16_index_fields_counting_creation_time() -> None:
    fields = [f"f{number}" for number in range(16)]
    table = define_table({name: v.string() for name in fields})
    table.index("fifteen", fields[:15])
    with pytest.raises(SchemaDefinitionError, match=re.escape('In index "sixteen": Indexes may have up to 16 fields.')):
        table.index("sixteen", fields)


def test_two_indexes_on_the_same_fields() -> None:
    assert index_error(lambda t: t.index("by_a", ["a"]).index("by_a_again", ["a"])) == (
        'Index "by_a_again" and index "by_a" have the same fields. Indexes must be unique within a table.'
    )


def test_at_most_32_indexes_per_table_of_all_kinds() -> None:
    table = define_table(v.any())
    for number in range(30):
        table.index(f"i{number}", [f"f{number}"])
    table.search_index("s", search_field="text")
    table.vector_index("vec", vector_field="embedding", dimensions=3)
    with pytest.raises(SchemaDefinitionError, match=re.escape("Table cannot have more than 32 indexes.")):
        table.index("one_too_many", ["g"])


def test_search_index_limits() -> None:
    assert (
        index_error(lambda t: t.search_index("s", search_field="a", filter_fields=[f"f{n}" for n in range(17)]))
        == 'In index "s": Search indexes may have up to 16 filter fields.'
    )
    assert index_error(
        lambda t: t.search_index("s1", search_field="a").search_index("s2", search_field="a")
    ).startswith('Search index "s2" and search index "s1" have the same `searchField`.')
    table = define_table(v.any())
    for number in range(4):
        table.search_index(f"s{number}", search_field=f"f{number}")
    with pytest.raises(SchemaDefinitionError, match=re.escape("Table cannot have more than 4 search indexes.")):
        table.search_index("s4", search_field="f4")


@pytest.mark.parametrize("dimensions", [1, 4097])
def test_vector_dimensions_between_2_and_4096(dimensions: int) -> None:
    assert index_error(lambda t: t.vector_index("vec", vector_field="v", dimensions=dimensions)) == (
        f"Dimensions {dimensions} must be between 2 and 4096."
    )


def test_vector_index_limits() -> None:
    with pytest.raises(TypeError):
        define_table(v.any()).vector_index("vec", vector_field="v", dimensions=True)
    table = define_table(v.any())
    for number in range(4):
        table.vector_index(f"v{number}", vector_field=f"f{number}", dimensions=2)
    with pytest.raises(SchemaDefinitionError, match=re.escape("Table cannot have more than 4 vector indexes.")):
        table.vector_index("v4", vector_field="f4", dimensions=2)


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad-name", 'Invalid table name: "bad-name". Identifiers must start with a letter'),
        ("_users", "_users is a reserved table name."),
        ("", 'Invalid table name: "".'),
    ],
)
def test_table_names(name: str, message: str) -> None:
    with pytest.raises(SchemaDefinitionError) as caught:
        define_schema({name: define_table({})})
    assert str(caught.value).startswith(message)


def test_tables_must_be_table_definitions() -> None:
    with pytest.raises(TypeError, match="define_table"):
        define_schema({"users": {"name": v.string()}})  # type: ignore[dict-item]


def test_indexes_must_reference_fields_the_schema_allows() -> None:
    table = define_table({"a": v.string()}).index("by_b", ["b"])
    with pytest.raises(SchemaDefinitionError) as caught:
        define_schema({"things": table})
    assert str(caught.value) == (
        'In table "things" the index "by_b" is invalid because it references the field "b" that does not exist.'
    )
    define_schema({"things": table}, schema_validation=False)
    define_schema({"things": define_table(v.any()).index("by_b", ["b"])})


def test_vector_fields_must_be_arrays_of_float64() -> None:
    bad = define_table({"embedding": v.array(v.string())}).vector_index("vec", vector_field="embedding", dimensions=2)
    with pytest.raises(SchemaDefinitionError) as caught:
        define_schema({"docs": bad})
    assert str(caught.value) == (
        'In table "docs" the vector index "vec" is invalid because it references the field "embedding" that is '
        "neither an array of float64 or optional array of float64."
    )
    good = define_table({"embedding": v.optional(v.array(v.float64()))})
    define_schema({"docs": good.vector_index("vec", vector_field="embedding", dimensions=2)})


def test_schema_to_json() -> None:
    schema = define_schema(
        {
            "docs": define_table({"text": v.string(), "embedding": v.array(v.float64())})
            .index("by_text", ["text"])
            .search_index("search_text", search_field="text")
            .vector_index("by_embedding", vector_field="embedding", dimensions=2)
        }
    )
    assert schema.to_json() == {
        "tables": [
            {
                "tableName": "docs",
                "indexes": [{"indexDescriptor": "by_text", "fields": ["text"]}],
                "searchIndexes": [{"indexDescriptor": "search_text", "searchField": "text", "filterFields": []}],
                "vectorIndexes": [
                    {"indexDescriptor": "by_embedding", "vectorField": "embedding", "dimensions": 2, "filterFields": []}
                ],
                "documentType": {
                    "type": "object",
                    "value": {
                        "text": {"fieldType": {"type": "string"}, "optional": False},
                        "embedding": {"fieldType": {"type": "array", "value": {"type": "number"}}, "optional": False},
                    },
                },
            }
        ],
        "schemaValidation": True,
    }


# --- document validation ---------------------------------------------------------------------


def test_valid_documents_pass_with_or_without_system_fields() -> None:
    schema = chat_schema()
    document = {"author": USER_ID, "body": "hi", "meta": {"channel": "general"}}
    schema.validate_document("messages", document, TABLES)
    schema.validate_document("messages", {**document, "_id": MESSAGE_ID, "_creationTime": 1.0}, TABLES)


def test_document_mismatch_names_the_table_and_path() -> None:
    assert rejected({"author": USER_ID, "body": "hi", "meta": {"channel": 5.0}}) == PREFIX + (
        "Value does not match validator.\nPath: .meta.channel\nValue: 5\nValidator: v.string()"
    )


def test_document_missing_and_extra_fields() -> None:
    assert rejected({"author": USER_ID, "meta": {"channel": "c"}}).startswith(
        PREFIX + "Object is missing the required field `body`."
    )
    assert rejected({"author": USER_ID, "body": "hi", "meta": {"channel": "c"}, "pinned": True}).startswith(
        PREFIX + "Object contains extra field `pinned` that is not in the validator."
    )


def test_document_ids_are_checked_against_their_table() -> None:
    assert rejected({"author": MESSAGE_ID, "body": "hi", "meta": {"channel": "c"}}) == PREFIX + (
        f'Found ID "{MESSAGE_ID}" from table `messages`, which does not match the table name in validator '
        '`v.id("users")`.Path: .author'
    )


def test_union_tables_report_the_whole_union() -> None:
    schema = define_schema(
        {"shapes": define_table(v.union(v.object({"r": v.float64()}), v.object({"w": v.float64()})))}
    )
    with pytest.raises(SchemaValidationError) as caught:
        schema.validate_document("shapes", {"r": "big", "_id": "x"}, TABLES)
    assert str(caught.value) == (
        'Failed to insert or update a document in table "shapes" because it does not match the schema: '
        'Value does not match validator.\n\nValue: {r: "big"}\n'
        "Validator: v.union(v.object({r: v.float64()}), v.object({w: v.float64()}))"
    )


def test_tables_outside_the_schema_and_disabled_validation_are_not_checked() -> None:
    chat_schema().validate_document("other", {"anything": 1}, TABLES)
    chat_schema(schema_validation=False).validate_document("messages", {"anything": 1}, TABLES)


def test_schema_tables_are_read_only() -> None:
    schema = chat_schema()
    assert isinstance(schema.tables["users"], TableDefinition)
    with pytest.raises(TypeError):
        schema.tables["extra"] = define_table({})  # type: ignore[index]
