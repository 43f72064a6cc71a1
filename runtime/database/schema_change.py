"""Whether a new schema fits the documents already stored, and the report when it does not.

Pushing a schema that existing documents violate would leave the database holding data its own
schema forbids, so a schema change (``Database.change_schema``, used by hot reload) first checks
every document of every table the new schema validates. A refusal names the tables, document
ids and fields at fault, like Convex's "Schema validation failed" report, so the developer can
fix the data or the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime import knobs
from runtime.store import Rows
from runtime.store.catalog import Catalog
from runtime.store.sqlite import decode_document
from runtime.values.errors import SchemaValidationError
from runtime.values.schema import SchemaDefinition

_PATH = re.compile(r"^Path: \.?(.+)$", re.MULTILINE)
_NAMED_FIELD = re.compile(r"field `([^`]+)`")
_PREFIX = re.compile(
    r"^Failed to insert or update a document in table \"[^\"]*\" because it does not match the schema: "
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One stored document that the new schema would reject, and why."""

    table: str
    document_id: str
    field: str  # dotted path of the offending field ("" when the document as a whole is wrong)
    reason: str  # the first line of the validator's message

    def describe(self) -> str:
        where = f"field {self.field}" if self.field else "document"
        return f"{self.table} {self.document_id}: {where}: {self.reason}"


class SchemaChangeError(Exception):
    """The new schema does not fit the stored documents; nothing was changed."""

    def __init__(self, violations: list[Violation], total: int) -> None:
        self.violations = violations
        self.total = total
        tables = sorted({violation.table for violation in violations})
        lines = [
            (
                f"Schema validation failed: {total} existing document{'s' * (total != 1)} in "
                f"{', '.join(tables)} do{'es' * (total == 1)} not match the new schema"
            )
        ]
        lines.extend(f"  {violation.describe()}" for violation in violations)
        if total > len(violations):
            lines.append(f"  ... and {total - len(violations)} more")
        super().__init__("\n".join(lines))


def check_stored_documents(rows: Rows, catalog: Catalog, schema: SchemaDefinition | None) -> None:
    """Raise ``SchemaChangeError`` if any stored document violates ``schema`` (read through ``rows``)."""
    if schema is None or not schema.schema_validation:
        return
    found: list[Violation] = []
    total = 0
    for table in schema.tables:
        table_number = catalog.table_numbers.get(table)
        if table_number is None:
            continue
        for body in rows.table_documents(table_number):
            document = decode_document(body)
            try:
                schema.validate_document(table, document, catalog)
            except SchemaValidationError as error:
                total += 1
                if len(found) < knobs.SCHEMA_REPORT_LIMIT:
                    found.append(_violation(table, str(document["_id"]), str(error)))
    if total:
        raise SchemaChangeError(found, total)


def _violation(table: str, document_id: str, message: str) -> Violation:
    detail = _PREFIX.sub("", message, count=1)
    headline = detail.splitlines()[0] if detail else detail
    path = _PATH.search(detail)
    named = _NAMED_FIELD.search(headline)
    field = path.group(1).strip() if path else ""
    if named is not None:
        field = f"{field}.{named.group(1)}" if field else named.group(1)
    return Violation(table, document_id, field, headline)
