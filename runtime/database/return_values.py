"""Checking what a query or mutation returns, without re-walking the documents it read.

Every return value must be a valid Convex value with ``undefined`` fields dropped. Most results are
documents read from the database, or lists and pages of them; walking each of their fields again
would cost more than reading them did. Everything stored passed the (stricter) document checks on
the way in, so an object that encodes to exactly the bytes of a document this execution read *is*
a valid value, whatever object it is, and only the rest of the result needs the full check; its
size (``value_size``, for the result size limit) is the one stored with it. A document the function
changed in place no longer matches any stored bytes and is checked like any other value. (The one blind spot: msgpack writes a tuple like a list, so a list swapped in place for
an equal tuple passes here; the wire encoders reject it afterwards.)
"""

from __future__ import annotations

from typing import Any

from runtime import knobs
from runtime.store.sqlite import encode_document
from runtime.values.values import UNDEFINED, Value, check_value, nesting_depth, strip_undefined, value_size

StoredDocuments = dict[bytes, int]
"""The stored bytes of every document handed to function code, and the document's ``value_size``."""


class _NeedsFullCheck(Exception):
    """The fast path does not apply (an ``undefined`` field to drop, a deep document); check it all."""


def checked_return_value(value: Any, stored: StoredDocuments) -> tuple[Value, int]:
    """``value`` without ``undefined`` object fields, and its ``value_size``; ``ConvexValueError`` if it is not a valid value."""
    if stored:
        size = _fast_check(value, stored)
        if size is not None:
            return value, size
    value = strip_undefined(value)
    check_value(value)
    return value, value_size(value)


def _fast_check(value: Any, stored: StoredDocuments) -> int | None:
    """The size of ``value`` if it passes the fast check, else None."""
    try:
        skeleton, size = _skeleton(value, stored, 0)
        check_value(skeleton)
    except Exception:  # noqa: BLE001 - any failure (a non-Convex object fails to encode, too) goes to the full check
        return None
    return size


def _skeleton(value: Any, stored: StoredDocuments, depth: int) -> tuple[Any, int]:
    """What is left of ``value`` to check once unchanged stored documents are taken out (as ``None``), and its size.

    Lists keep their depth but lose those documents, so a page of documents costs one length check.
    """
    kind = type(value)
    if kind is dict:
        size = stored.get(encode_document(value)) if "_id" in value else None
        if size is not None:
            # Stored documents are at most MAX_DOCUMENT_NESTING deep; measure only where that could matter.
            if (
                depth + knobs.MAX_DOCUMENT_NESTING > knobs.MAX_VALUE_NESTING
                and depth + nesting_depth(value) > knobs.MAX_VALUE_NESTING
            ):
                raise _NeedsFullCheck
            return None, size
        copy = {}
        size = 2
        for key, item in value.items():
            if item is UNDEFINED:
                raise _NeedsFullCheck
            copy[key], item_size = _skeleton(item, stored, depth + 1)
            size += len(key.encode("utf-8", "surrogatepass")) + 1 + item_size
        return copy, size
    if kind is list:
        if len(value) > knobs.MAX_ARRAY_LENGTH:
            raise _NeedsFullCheck
        remaining = []
        size = 2
        shallow = depth + 1 + knobs.MAX_DOCUMENT_NESTING <= knobs.MAX_VALUE_NESTING
        for item in value:
            # The document case of the dict branch, inlined: a page of documents runs it per row.
            if shallow and type(item) is dict and "_id" in item:
                item_size = stored.get(encode_document(item))
                if item_size is not None:
                    size += item_size
                    continue
            part, item_size = _skeleton(item, stored, depth + 1)
            size += item_size
            if part is not None:
                remaining.append(part)
        return remaining, size
    return value, value_size(value)
