"""Order-preserving byte encoding of Convex values, for index keys, ranges and read sets.

``encode_value(a) < encode_value(b)`` (as bytes) exactly when ``compare_values(a, b) < 0``, and
encodings are self-delimiting, so the concatenated encoding of a tuple sorts like the tuple and
"every key that starts with these field values" is one contiguous byte range.

Layout: a tag byte per type in the cross-type order, then
- int64: 8 bytes big-endian with the sign bit flipped;
- float64: 8 bytes big-endian of the IEEE total-order key, offset to unsigned;
- string/bytes: the raw bytes with 0x00 escaped as 0x00 0xFF, closed by 0x00;
- array: the elements, closed by 0x00 (below every tag, so a prefix sorts first);
- object: for each field in key order 0x01, the escaped key, 0x00, the value; closed by 0x00.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from runtime.values.errors import ConvexValueError
from runtime.values.values import INT64_MAX, INT64_MIN, UNDEFINED, Value, float_order_key

TAG_UNDEFINED: Final = 0x01
TAG_NULL: Final = 0x03
TAG_INT: Final = 0x04
TAG_FLOAT: Final = 0x0D
TAG_FALSE: Final = 0x0E
TAG_TRUE: Final = 0x0F
TAG_STR: Final = 0x10
TAG_BYTES: Final = 0x11
TAG_ARRAY: Final = 0x12
TAG_OBJECT: Final = 0x15
_END: Final = 0x00
_FIELD: Final = 0x01
_SIGN: Final = 1 << 63


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00"


def _encode_into(value: Value, out: bytearray) -> None:
    if value is None:
        out.append(TAG_NULL)
    elif value is UNDEFINED:
        out.append(TAG_UNDEFINED)
    elif value is True:
        out.append(TAG_TRUE)
    elif value is False:
        out.append(TAG_FALSE)
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            # Masking would wrap 2**63 onto INT64_MIN and break both order and decoding.
            raise ConvexValueError(f"Integer {value} does not fit into a 64-bit signed integer")
        out.append(TAG_INT)
        out += struct.pack(">Q", value + _SIGN)
    elif isinstance(value, float):
        out.append(TAG_FLOAT)
        out += struct.pack(">Q", float_order_key(value) + _SIGN)
    elif isinstance(value, str):
        out.append(TAG_STR)
        out += _escape(value.encode("utf-8"))
    elif isinstance(value, bytes):
        out.append(TAG_BYTES)
        out += _escape(value)
    elif isinstance(value, list):
        out.append(TAG_ARRAY)
        for item in value:
            _encode_into(item, out)
        out.append(_END)
    elif isinstance(value, dict):
        out.append(TAG_OBJECT)
        if not all(isinstance(key, str) for key in value):
            raise TypeError("cannot encode an object with non-string keys as an index key")
        for key in sorted(value):
            out.append(_FIELD)
            out += _escape(key.encode("utf-8"))
            _encode_into(value[key], out)
        out.append(_END)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as an index key")


def encode_value(value: Value) -> bytes:
    """The order-preserving encoding of one value (``UNDEFINED`` = missing, sorting first)."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def encode_key(values: Sequence[Value]) -> bytes:
    """The encoding of a tuple of values: an index key or a prefix of one."""
    out = bytearray()
    for value in values:
        _encode_into(value, out)
    return bytes(out)


def trailing_id(key: bytes) -> str:
    """The document id that ends every index key (``IndexInfo.key_of``), without decoding the rest.

    An id is encoded as ``TAG_STR``, its ASCII characters, ``0x00``; ids are written in a base32
    alphabet of digits and letters, so the last ``TAG_STR`` byte of the key is where it starts.
    """
    return key[key.rindex(TAG_STR, 0, len(key) - 1) + 1 : -1].decode("ascii")


def decode_key(key: bytes) -> list[Value]:
    """Decode a concatenation of encoded values back into the values (inverse of ``encode_key``).

    Raises ``ValueError`` if ``key`` is not such a concatenation (unknown tag, truncated, bad UTF-8).
    """
    values: list[Value] = []
    position = 0
    try:
        while position < len(key):
            value, position = _decode_at(key, position)
            values.append(value)
    except (IndexError, struct.error):
        raise ValueError(f"corrupt index key: truncated value at byte {position}") from None
    return values


def _unescape_at(key: bytes, position: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        byte = key[position]
        if byte == 0x00:
            if position + 1 < len(key) and key[position + 1] == 0xFF:
                out.append(0x00)
                position += 2
                continue
            return bytes(out), position + 1
        out.append(byte)
        position += 1


def _decode_at(key: bytes, position: int) -> tuple[Value, int]:
    tag = key[position]
    position += 1
    if tag == TAG_NULL:
        return None, position
    if tag == TAG_UNDEFINED:
        return UNDEFINED, position
    if tag == TAG_TRUE:
        return True, position
    if tag == TAG_FALSE:
        return False, position
    if tag == TAG_INT:
        (raw,) = struct.unpack_from(">Q", key, position)
        return raw - _SIGN, position + 8
    if tag == TAG_FLOAT:
        (raw,) = struct.unpack_from(">Q", key, position)
        ordered = raw - _SIGN
        bits = ordered ^ 0x7FFF_FFFF_FFFF_FFFF if ordered < 0 else ordered
        return struct.unpack("<d", struct.pack("<q", bits))[0], position + 8
    if tag == TAG_STR:
        raw_bytes, position = _unescape_at(key, position)
        return raw_bytes.decode("utf-8"), position
    if tag == TAG_BYTES:
        return _unescape_at(key, position)
    if tag == TAG_ARRAY:
        items: list[Value] = []
        while key[position] != _END:
            item, position = _decode_at(key, position)
            items.append(item)
        return items, position + 1
    if tag == TAG_OBJECT:
        fields: dict[str, Value] = {}
        while key[position] == _FIELD:
            name, position = _unescape_at(key, position + 1)
            fields[name.decode("utf-8")], position = _decode_at(key, position)
        return fields, position + 1
    raise ValueError(f"corrupt index key: unknown tag {tag:#x} at byte {position - 1}")
