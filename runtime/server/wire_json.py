"""Results as wire JSON bytes, each unchanged document encoded once per process, not once per run.

A live query re-runs after every commit that touches it, and mostly returns the same documents as
last time (an inbox of a thousand conversations where one changed). ``to_json`` walks every field
of every one of them again; here a document is recognised by its stored encoding (msgpack, one C
call) and its wire JSON comes from a bounded cache, spliced into the result as ``msgspec.Raw``.
The stored encoding determines the value exactly (msgpack keeps int/float, str/bytes and key order
apart), so a cached encoding is the one ``to_json`` would produce.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw

from runtime.store.sqlite import encode_document
from runtime.values.values import UNDEFINED, Value, to_json

CACHE_MAX_BYTES = 64 << 20  # stored + wire bytes held; past it the cache starts over
_cache: dict[bytes, Raw] = {}
_cached_bytes = 0
_json = msgspec.json.Encoder()


def encode(value: Value) -> bytes:
    """``msgspec.json.encode(to_json(value))``, with unchanged documents taken from the cache.

    Raises ``ConvexValueError`` exactly where ``to_json`` would.
    """
    return _json.encode(_wire(value))


def _wire(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [_wire(item) for item in value]
    if kind is dict:
        if "_id" in value and "_creationTime" in value:
            return _document(value)
        return {key: _wire(item) for key, item in _checked_items(value)}
    return to_json(value)


def _checked_items(value: dict[Any, Any]) -> list[tuple[str, Any]]:
    """The fields ``to_json`` keeps (it raises for a bad key): only the keys are checked here."""
    to_json({key: None for key in value})
    return [(key, item) for key, item in value.items() if item is not UNDEFINED]


def _document(value: dict[str, Any]) -> Any:
    global _cached_bytes
    try:
        stored = encode_document(value)
    except (TypeError, ValueError, OverflowError):
        return {key: _wire(item) for key, item in _checked_items(value)}
    cached = _cache.get(stored)
    if cached is None:
        cached = Raw(_json.encode(to_json(value)))
        if _cached_bytes > CACHE_MAX_BYTES:
            _cache.clear()
            _cached_bytes = 0
        _cache[stored] = cached
        _cached_bytes += len(stored) + len(cached)
    return cached
