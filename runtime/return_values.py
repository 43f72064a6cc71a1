"""Checking what a query or mutation returns, without re-walking the documents it read.

Every return value must be a valid Convex value with ``undefined`` fields dropped. Most results are
documents read from the database, or lists and pages of them; walking each of their fields again
would cost more than reading them did. A document that still encodes to exactly the bytes it was
decoded from is unchanged since it was stored, and everything stored passed the (stricter)
document checks on the way in, so only the rest of the value needs the full check. A document the
function changed in place no longer matches its bytes and is checked like any other value.
"""

from __future__ import annotations

from typing import Any

from runtime import knobs
from runtime.errors import ConvexValueError
from runtime.storage import encode_document
from runtime.values import UNDEFINED, Value, check_value, nesting_depth, strip_undefined

StoredDocuments = dict[int, tuple[dict[str, Value], bytes]]
"""Documents handed to function code, by ``id()``: the object and the bytes it was decoded from."""


class _NeedsFullCheck(Exception):
    """The fast path does not apply (an ``undefined`` field to drop); check the whole value."""


def checked_return_value(value: Any, stored: StoredDocuments) -> Value:
    """``value`` without ``undefined`` object fields, or ``ConvexValueError`` if it is not a valid value."""
    if stored:
        try:
            check_value(_skeleton(value, stored, 0))
        except (_NeedsFullCheck, ConvexValueError):
            pass  # the full check below finds the problem and names its exact path
        else:
            return value
    value = strip_undefined(value)
    check_value(value)
    return value


def _skeleton(value: Any, stored: StoredDocuments, depth: int) -> Any:
    """What is left of ``value`` to check once unchanged stored documents are taken out (as ``None``).

    Lists keep their depth but lose those documents, so a page of documents costs one length check.
    """
    kind = type(value)
    if kind is dict:
        entry = stored.get(id(value))
        if entry is not None and entry[0] is value and encode_document(value) == entry[1]:
            # Stored documents are at most MAX_DOCUMENT_NESTING deep; measure only where that could matter.
            if (
                depth + knobs.MAX_DOCUMENT_NESTING > knobs.MAX_VALUE_NESTING
                and depth + nesting_depth(value) > knobs.MAX_VALUE_NESTING
            ):
                raise _NeedsFullCheck
            return None
        copy = {}
        for key, item in value.items():
            if item is UNDEFINED:
                raise _NeedsFullCheck
            copy[key] = _skeleton(item, stored, depth + 1)
        return copy
    if kind is list:
        if len(value) > knobs.MAX_ARRAY_LENGTH:
            raise _NeedsFullCheck
        remaining = []
        shallow = depth + 1 + knobs.MAX_DOCUMENT_NESTING <= knobs.MAX_VALUE_NESTING
        lookup = stored.get
        for item in value:
            # The document case of the dict branch, inlined: a page of documents runs it per row.
            if shallow and type(item) is dict:
                # The map holds each document it names, so no other live object can have its id().
                entry = lookup(id(item))
                if entry is not None and encode_document(item) == entry[1]:
                    continue
            part = _skeleton(item, stored, depth + 1)
            if part is not None:
                remaining.append(part)
        return remaining
    return value
