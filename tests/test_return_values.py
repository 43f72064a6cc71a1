"""What a query or mutation returns is checked and measured without re-walking the documents it read:
a document unchanged since it was read counts at the size stored with it; anything else is measured."""

from __future__ import annotations

import pytest

from runtime.database.return_values import checked_return_value
from runtime.store.sqlite import encode_document
from runtime.values.errors import ConvexValueError
from runtime.values.values import UNDEFINED, value_size

DOCUMENTS = [{"_id": f"doc{index}", "_creationTime": 1.0 + index, "text": "x" * index} for index in range(3)]


def stored_as(size: int) -> dict[bytes, int]:
    return {encode_document(document): size for document in DOCUMENTS}


def test_a_result_of_read_documents_is_measured_at_their_stored_sizes() -> None:
    result = {"page": list(DOCUMENTS), "first": DOCUMENTS[0], "cursor": "c", "done": False}
    stored = {encode_document(document): value_size(document) for document in DOCUMENTS}
    assert checked_return_value(result, stored) == (result, value_size(result))
    # The stored sizes are what count (here made up), not a walk of the documents.
    walked = sum(value_size(document) for document in DOCUMENTS) + value_size(DOCUMENTS[0])
    assert checked_return_value(result, stored_as(7)) == (result, value_size(result) - walked + 4 * 7)


def test_a_document_changed_after_it_was_read_is_measured_and_checked_in_full() -> None:
    changed = {**DOCUMENTS[1], "text": "longer", "gone": UNDEFINED}
    value, size = checked_return_value([changed, DOCUMENTS[0]], stored_as(7))
    assert value == [{key: item for key, item in changed.items() if item is not UNDEFINED}, DOCUMENTS[0]]
    assert size == value_size(value)  # the full check measures everything itself
    with pytest.raises(ConvexValueError):
        checked_return_value([{**DOCUMENTS[0], "bad": object()}], stored_as(7))
