"""``wire_json.encode`` is ``to_json`` then JSON, whether a document's encoding comes from its cache or not."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.server import wire_json
from runtime.values.errors import ConvexValueError
from runtime.values.values import UNDEFINED, to_json
from tests.strategies import convex_documents, convex_values


def reference(value: Any) -> bytes:
    return msgspec.json.encode(to_json(value))


def stored(fields: dict[str, Any]) -> dict[str, Any]:
    return {"_id": "k57d8rz1t5e6vd5hsp9v2w9n1d7tgkq0", "_creationTime": 1.5, **fields}


@given(convex_values)
def test_any_value_encodes_as_to_json_does(value: Any) -> None:
    assert wire_json.encode(value) == reference(value)


@given(st.lists(convex_documents.map(stored), max_size=4))
def test_documents_encode_the_same_from_the_cache_as_the_first_time(documents: list[dict[str, Any]]) -> None:
    first = wire_json.encode(documents)
    assert first == reference(documents)
    assert wire_json.encode(documents) == first


def test_values_that_differ_only_in_type_are_not_confused() -> None:
    as_int, as_float = stored({"n": 1}), stored({"n": 1.0})
    assert wire_json.encode(as_int) == reference(as_int)
    assert wire_json.encode(as_float) == reference(as_float)
    assert wire_json.encode(as_int) != wire_json.encode(as_float)


@pytest.mark.parametrize(
    "value",
    [stored({"big": 2**63}), stored({"$bad": 1.0}), [stored({"nested": {"$x": 1.0}})], {1: "key"}, UNDEFINED, object()],
)
def test_what_to_json_refuses_is_refused(value: Any) -> None:
    with pytest.raises(ConvexValueError):
        to_json(value)
    with pytest.raises(ConvexValueError):
        wire_json.encode(value)


def test_undefined_fields_are_dropped_like_to_json_drops_them() -> None:
    value = [stored({"gone": UNDEFINED, "kept": "x"}), {"gone": UNDEFINED}]
    assert wire_json.encode(value) == reference(value)
