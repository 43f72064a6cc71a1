"""An app's schema: its tables, the validator every document must match, and the indexes to build.

Spelled like Convex's ``defineSchema``/``defineTable`` (convex-semantics §2.4, §3.8, §9). The
definition rules the Convex backend enforces when a schema is pushed are enforced here as soon as
each piece is declared, so a bad ``schema.py`` fails on import with the backend's message rather
than on the first write. At run time ``validate_document`` is the only hot path: it strips the
system fields and runs the table's compiled validator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from runtime import knobs
from runtime.values.errors import SchemaValidationError
from runtime.values.validators import (
    IDENTIFIER_REQUIREMENTS,
    ArrayValidator,
    ObjectValidator,
    ScalarValidator,
    TableNames,
    UnionValidator,
    ValidationFailure,
    Validator,
    identifier_error,
    v,
)

SYSTEM_FIELDS: Final = ("_id", "_creationTime")
RESERVED_INDEX_NAMES: Final = ("by_id", "by_creation_time")
SEE_SCHEMA_DOCS: Final = "To learn more, see the schema documentation at https://docs.convex.dev/database/schemas."


class SchemaDefinitionError(ValueError):
    """A schema that Convex would refuse to deploy: bad names, too many indexes, and so on."""


@dataclass(frozen=True)
class IndexDefinition:
    """``.index(name, fields)``: rows are keyed by ``fields + [_creationTime, _id]``."""

    name: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class SearchIndexDefinition:
    """``.search_index(name, search_field=..., filter_fields=[...])``: a full-text index."""

    name: str
    search_field: str
    filter_fields: tuple[str, ...]


@dataclass(frozen=True)
class VectorIndexDefinition:
    """``.vector_index(name, vector_field=..., dimensions=..., filter_fields=[...])``."""

    name: str
    vector_field: str
    dimensions: int
    filter_fields: tuple[str, ...]


AnyIndex = IndexDefinition | SearchIndexDefinition | VectorIndexDefinition


# ---------------------------------------------------------------------------------------------
# Definition-time checks
# ---------------------------------------------------------------------------------------------


def _document_validator(validator: Validator) -> Validator:
    """The validator documents are checked against: declared ``_id``/``_creationTime`` dropped.

    Only objects, unions of objects and ``v.any()`` describe documents.
    """
    if isinstance(validator, ScalarValidator) and validator.kind == "any":
        return validator
    if isinstance(validator, ObjectValidator):
        return _without_system_fields(validator)
    if isinstance(validator, UnionValidator):
        return v.union(*(_document_validator_member(member) for member in validator.members))
    raise SchemaDefinitionError(_invalid_top_level(validator))


def _document_validator_member(member: Validator) -> ObjectValidator:
    if not isinstance(member, ObjectValidator):
        raise SchemaDefinitionError(_invalid_top_level(member))
    return _without_system_fields(member)


def _invalid_top_level(validator: Validator) -> str:
    return (
        "The document validator in a schema must be an object, a union of objects, or `v.any()`. "
        f"Found {validator.describe()}. {SEE_SCHEMA_DOCS}"
    )


def _without_system_fields(validator: ObjectValidator) -> ObjectValidator:
    for name in validator.fields:
        if name.startswith("_") and name not in SYSTEM_FIELDS:
            raise SchemaDefinitionError(
                f"Field `{name}` starts with an underscore, which is only allowed for system fields like `_id`."
            )
    if not any(name in validator.fields for name in SYSTEM_FIELDS):
        return validator
    return v.object({name: field for name, field in validator.fields.items() if name not in SYSTEM_FIELDS})


def _check_index_name(name: object, taken: Sequence[AnyIndex]) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Index names are strings, got {name!r}")
    if identifier_error(name) is not None:
        raise SchemaDefinitionError(
            f'Invalid index name: "{name}". Identifiers must be {knobs.MAX_IDENTIFIER_LENGTH} characters or less, '
            "start with a letter, and only contain letters, digits, underscores."
        )
    if name.startswith("_") or name in RESERVED_INDEX_NAMES:
        raise SchemaDefinitionError(
            f'Cannot name an index "{name}" because the name is reserved. Indexes may not start with an '
            'underscore or be named "by_id" or "by_creation_time".'
        )
    if any(index.name == name for index in taken):
        raise SchemaDefinitionError(f'Table has two or more definitions of index "{name}".')
    if len(taken) + 1 > knobs.MAX_INDEXES_PER_TABLE:
        raise SchemaDefinitionError(f"Table cannot have more than {knobs.MAX_INDEXES_PER_TABLE} indexes.")
    return name


def _check_field_path(index: str, path: object) -> str:
    """An indexed field: dotted identifiers, no system or ``_``-prefixed fields."""
    if not isinstance(path, str) or any(identifier_error(part) for part in path.split(".")):
        raise SchemaDefinitionError(f'In index "{index}": Invalid index field: "{path}"')
    if path == "_id":
        raise SchemaDefinitionError(
            f'In index "{index}": `_id` is not a valid index field. To load documents by ID, use `db.get(id)`.'
        )
    if path == "_creationTime":
        raise SchemaDefinitionError(
            f'In index "{index}": `_creationTime` is automatically added to the end of each index. It should not '
            "be added explicitly in the index definition. See https://docs.convex.dev/using/indexes for more details."
        )
    if any(part.startswith("_") for part in path.split(".")):
        raise SchemaDefinitionError(
            f'In index "{index}": Reserved fields (starting with `_`) are not allowed in indexes.'
        )
    return path


def _field_list(index: str, fields: object, what: str) -> tuple[str, ...]:
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise TypeError(f'In index "{index}": {what} must be a list of field paths, got {fields!r}')
    return tuple(_check_field_path(index, field) for field in fields)


def _filter_fields(index: str, fields: object) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(_field_list(index, fields, "filter_fields")))  # a set in Convex
    if len(unique) > knobs.MAX_INDEX_FILTER_FIELDS:
        raise SchemaDefinitionError(
            f'In index "{index}": Search indexes may have up to {knobs.MAX_INDEX_FILTER_FIELDS} filter fields.'
        )
    return unique


def _check_kind_limit(existing: Sequence[AnyIndex], limit: int, kind: str) -> None:
    if len(existing) + 1 > limit:
        raise SchemaDefinitionError(f"Table cannot have more than {limit} {kind} indexes.")


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


class TableDefinition:
    """One table of a schema. ``.index`` and friends add to it and return it, as in Convex."""

    def __init__(self, validator: Validator) -> None:
        self.validator: Final = validator  # as declared; exported by to_json
        # What documents are checked against: the declared validator without system fields.
        self.document_validator: Final = _document_validator(validator)
        self._indexes: list[IndexDefinition] = []
        self._search_indexes: list[SearchIndexDefinition] = []
        self._vector_indexes: list[VectorIndexDefinition] = []

    @property
    def indexes(self) -> tuple[IndexDefinition, ...]:
        return tuple(self._indexes)

    @property
    def search_indexes(self) -> tuple[SearchIndexDefinition, ...]:
        return tuple(self._search_indexes)

    @property
    def vector_indexes(self) -> tuple[VectorIndexDefinition, ...]:
        return tuple(self._vector_indexes)

    def _all_indexes(self) -> list[AnyIndex]:
        return [*self._indexes, *self._search_indexes, *self._vector_indexes]

    def index(self, name: str, fields: Sequence[str]) -> TableDefinition:
        """Add a database index on ``fields`` (dotted paths allowed); ``_creationTime`` is implied."""
        name = _check_index_name(name, self._all_indexes())
        paths = _field_list(name, fields, "fields")
        if not paths:
            raise SchemaDefinitionError(f'Index "{name}" must have at least one field.')
        if len(paths) + 1 > knobs.MAX_INDEX_FIELDS:  # + the implicit _creationTime
            raise SchemaDefinitionError(f'In index "{name}": Indexes may have up to {knobs.MAX_INDEX_FIELDS} fields.')
        duplicate = next((path for position, path in enumerate(paths) if path in paths[:position]), None)
        if duplicate is not None:
            raise SchemaDefinitionError(
                f'In index "{name}": Duplicate field "{duplicate}". Index fields must be unique within an index.'
            )
        same = next((index for index in self._indexes if index.fields == paths), None)
        if same is not None:
            raise SchemaDefinitionError(
                f'Index "{name}" and index "{same.name}" have the same fields. Indexes must be unique within a table.'
            )
        self._indexes.append(IndexDefinition(name, paths))
        return self

    def search_index(self, name: str, *, search_field: str, filter_fields: Sequence[str] = ()) -> TableDefinition:
        """Add a full-text index over the string field ``search_field``."""
        name = _check_index_name(name, self._all_indexes())
        _check_kind_limit(self._search_indexes, knobs.MAX_SEARCH_INDEXES_PER_TABLE, "search")
        field = _check_field_path(name, search_field)
        same = next((index for index in self._search_indexes if index.search_field == field), None)
        if same is not None:
            raise SchemaDefinitionError(
                f'Search index "{name}" and search index "{same.name}" have the same `searchField`. Search index '
                "fields must be unique within a table. You should combine the indexes with the same `searchField` "
                "into one index containing all `filterField`s and then use different subsets of the `filterField`s "
                "at query time."
            )
        self._search_indexes.append(SearchIndexDefinition(name, field, _filter_fields(name, filter_fields)))
        return self

    def vector_index(
        self, name: str, *, vector_field: str, dimensions: int, filter_fields: Sequence[str] = ()
    ) -> TableDefinition:
        """Add a vector index over ``vector_field``, an array of ``dimensions`` float64s."""
        name = _check_index_name(name, self._all_indexes())
        _check_kind_limit(self._vector_indexes, knobs.MAX_VECTOR_INDEXES_PER_TABLE, "vector")
        field = _check_field_path(name, vector_field)
        if not isinstance(dimensions, int) or isinstance(dimensions, bool):
            raise TypeError(f'In index "{name}": dimensions must be an int, got {dimensions!r}')
        if not knobs.MIN_VECTOR_DIMENSIONS <= dimensions <= knobs.MAX_VECTOR_DIMENSIONS:
            raise SchemaDefinitionError(
                f"Dimensions {dimensions} must be between {knobs.MIN_VECTOR_DIMENSIONS} and "
                f"{knobs.MAX_VECTOR_DIMENSIONS}."
            )
        same = next((index for index in self._vector_indexes if index.vector_field == field), None)
        if same is not None and same.dimensions == dimensions:
            raise SchemaDefinitionError(
                f'Vector index "{name}" and vector index "{same.name}" have the same `vectorField`. Vector index '
                "fields must be unique within a table."
            )
        filters = _filter_fields(name, filter_fields)
        self._vector_indexes.append(VectorIndexDefinition(name, field, dimensions, filters))
        return self

    def to_json(self, table_name: str) -> dict[str, Any]:
        """This table as in Convex's schema export (``tableName``, ``indexes``, ``documentType`` …)."""
        return {
            "tableName": table_name,
            "indexes": [{"indexDescriptor": i.name, "fields": list(i.fields)} for i in self._indexes],
            "searchIndexes": [
                {"indexDescriptor": i.name, "searchField": i.search_field, "filterFields": list(i.filter_fields)}
                for i in self._search_indexes
            ],
            "vectorIndexes": [
                {
                    "indexDescriptor": i.name,
                    "vectorField": i.vector_field,
                    "dimensions": i.dimensions,
                    "filterFields": list(i.filter_fields),
                }
                for i in self._vector_indexes
            ],
            "documentType": self.validator.to_json(),
        }


def define_table(fields: Mapping[str, Validator] | Validator) -> TableDefinition:
    """A table whose documents have ``fields`` (a dict means ``v.object(fields)``)."""
    return TableDefinition(fields if isinstance(fields, Validator) else v.object(fields))


# ---------------------------------------------------------------------------------------------
# Index fields against the document validator (checked when the schema is enforced)
# ---------------------------------------------------------------------------------------------


def _can_contain(validator: Validator, parts: Sequence[str]) -> bool:
    """Whether some document allowed by ``validator`` can have the field at ``parts``."""
    if not parts:
        return True
    if isinstance(validator, ScalarValidator):
        return validator.kind == "any"
    if isinstance(validator, UnionValidator):
        return any(_can_contain(member, parts) for member in validator.members)
    if isinstance(validator, ObjectValidator):
        field = validator.fields.get(parts[0])
        return field is not None and _can_contain(field, parts[1:])
    return False


def _can_hold_vector(validator: Validator, parts: Sequence[str]) -> bool:
    """Whether the field at ``parts`` may be an array of float64 (Convex's vector index rule)."""
    if isinstance(validator, ScalarValidator) and validator.kind == "any":
        return True
    if isinstance(validator, UnionValidator):
        return any(_can_hold_vector(member, parts) for member in validator.members)
    if not parts:
        return isinstance(validator, ArrayValidator) and validator.element in (v.float64(), v.any())
    if isinstance(validator, ObjectValidator):
        field = validator.fields.get(parts[0])
        return field is None or _can_hold_vector(field, parts[1:])
    return False


def _referenced_fields(definition: TableDefinition) -> list[tuple[str, str]]:
    """``(index name, field path)`` for every field any index of ``definition`` reads."""
    pairs = [(index.name, field) for index in definition.indexes for field in index.fields]
    for search in definition.search_indexes:
        pairs += [(search.name, field) for field in (search.search_field, *search.filter_fields)]
    for vector in definition.vector_indexes:
        pairs += [(vector.name, field) for field in (vector.vector_field, *vector.filter_fields)]
    return pairs


def _check_index_references(table: str, definition: TableDefinition) -> None:
    document = definition.document_validator
    for index_name, field in _referenced_fields(definition):
        if not _can_contain(document, field.split(".")):
            raise SchemaDefinitionError(
                f'In table "{table}" the index "{index_name}" is invalid because it references the field '
                f'"{field}" that does not exist.'
            )
    for vector in definition.vector_indexes:
        if not _can_hold_vector(document, vector.vector_field.split(".")):
            raise SchemaDefinitionError(
                f'In table "{table}" the vector index "{vector.name}" is invalid because it references the field '
                f'"{vector.vector_field}" that is neither an array of float64 or optional array of float64.'
            )


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class SchemaDefinition:
    """The tables of an app. Tables it does not name exist too, but are not validated."""

    def __init__(self, tables: Mapping[str, TableDefinition], schema_validation: bool) -> None:
        self.tables: Final[Mapping[str, TableDefinition]] = MappingProxyType(dict(tables))
        self.schema_validation: Final = schema_validation

    def validate_document(self, table: str, document: dict[str, Any], tables: TableNames | None) -> None:
        """Raise ``SchemaValidationError`` unless ``document`` (system fields ignored) fits ``table``."""
        definition = self.tables.get(table)
        if definition is None or not self.schema_validation:
            return
        if "_id" in document or "_creationTime" in document:
            document = {name: item for name, item in document.items() if name not in SYSTEM_FIELDS}
        try:
            definition.document_validator.check(document, "", tables)
        except ValidationFailure as failure:
            raise SchemaValidationError(
                f'Failed to insert or update a document in table "{table}" because it does not match the schema: '
                f"{failure}"
            ) from None

    def to_json(self) -> dict[str, Any]:
        """The schema as Convex exports it: ``{"tables": [...], "schemaValidation": bool}``."""
        return {
            "tables": [definition.to_json(name) for name, definition in self.tables.items()],
            "schemaValidation": self.schema_validation,
        }


def _check_table_name(name: object) -> str:
    if not isinstance(name, str) or identifier_error(name) is not None:
        raise SchemaDefinitionError(f'Invalid table name: "{name}". {IDENTIFIER_REQUIREMENTS}')
    if name.startswith("_"):
        raise SchemaDefinitionError(f"{name} is a reserved table name.")
    return name


def define_schema(tables: Mapping[str, TableDefinition], *, schema_validation: bool = True) -> SchemaDefinition:
    """The app's schema. With ``schema_validation=False`` documents are not checked at all."""
    if not isinstance(tables, Mapping):
        raise TypeError(f"define_schema takes a dict of table definitions, got {tables!r}")
    for name, definition in tables.items():
        _check_table_name(name)
        if not isinstance(definition, TableDefinition):
            raise TypeError(f'Table "{name}" must be defined with define_table(...), got {definition!r}')
        if schema_validation:
            _check_index_references(name, definition)
    return SchemaDefinition(tables, schema_validation)
