"""Checking what a query or mutation returns, without re-walking the documents it read.

Every return value must be a valid Convex value with ``undefined`` fields dropped. Most results are
documents read from the database, or lists and pages of them; walking each of their fields again
would cost more than reading them did. Everything stored passed the (stricter) document checks on
the way in, so an object that encodes to exactly the bytes of a document this execution read *is*
a valid value, whatever object it is, and only the rest of the result needs the full check. A
document the function changed in place no longer matches any stored bytes and is checked like any
other value. (The one blind spot: msgpack writes a tuple like a list, so a list swapped in place for
an equal tuple passes here; the wire encoders reject it afterwards.)
"""

from __future__ import annotations

from typing import Any

from runtime import knobs
from runtime.store.sqlite import encode_document
from runtime.values.values import UNDEFINED, Value, check_value, nesting_depth, strip_undefined

StoredDocuments = set[bytes]
"""The stored bytes of every document handed to function code."""


class _NeedsFullCheck(Exception):
    """The fast path does not apply (an ``undefined`` field to drop, a deep document); check it all."""


def checked_return_value(value: Any, stored: StoredDocuments) -> Value:
    """``value`` without ``undefined`` object fields, or ``ConvexValueError`` if it is not a valid value."""
    if stored and _passes_fast_check(value, stored):
        return value
    value = strip_undefined(value)
    check_value(value)
    return value


def _passes_fast_check(value: Any, stored: StoredDocuments) -> bool:
    try:
        check_value(_skeleton(value, stored, 0))
    except Exception:  # noqa: BLE001 - any failure (a non-Convex object fails to encode, too) goes to the full check
        return False
    return True


def _skeleton(value: Any, stored: StoredDocuments, depth: int) -> Any:
    """What is left of ``value`` to check once unchanged stored documents are taken out (as ``None``).

    Lists keep their depth but lose those documents, so a page of documents costs one length check.
    """
    kind = type(value)
    if kind is dict:
        if "_id" in value and encode_document(value) in stored:
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
        for item in value:
            # The document case of the dict branch, inlined: a page of documents runs it per row.
            if shallow and type(item) is dict and "_id" in item and encode_document(item) in stored:
                continue
            part = _skeleton(item, stored, depth + 1)
            if part is not None:
                remaining.append(part)
        return remaining
    return value
