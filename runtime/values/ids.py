"""Document ids: opaque strings that encode their table, in the shape of Convex's "IDv6".

Binary layout: VInt(table number) ‖ 16-byte internal id ‖ 2-byte little-endian footer
(Fletcher-16 of the rest, XOR version 0), written in lower-case Crockford base32. Table numbers
from 128 to 16383 give 32-character ids, like a real deployment's.
"""

from __future__ import annotations

import base64
import operator
import os
import random
from collections.abc import Callable
from typing import Final

from runtime.clock import now_ms
from runtime.values.errors import InvalidIdError

ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE: Final = {char: index for index, char in enumerate(ALPHABET)}
MIN_ID_LENGTH: Final = 31
MAX_ID_LENGTH: Final = 37
INTERNAL_ID_BYTES: Final = 16
DECODED_CACHE_SIZE: Final = 1 << 16  # valid ids remembered by ``decode_id``; past it, it starts over
_decoded: dict[str, tuple[int, bytes]] = {}


def _vint(number: int) -> bytes:
    out = bytearray()
    while True:
        group = number & 0x7F
        number >>= 7
        if number:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


def _fletcher16(data: bytes) -> int:
    # Modulo 256 both sums are linear: the running sum adds byte i once for each of the
    # ``len(data) - i`` positions from i on, so both are C-level sums instead of a Python loop.
    low = sum(data) % 256
    high = sum(map(operator.mul, data, range(len(data), 0, -1))) % 256
    return (high << 8) | low


_FROM_RFC4648: Final = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode("ascii"))


def _base32_encode(data: bytes) -> str:
    # RFC 4648 base32 has the same bit order; only the alphabet differs, and ids carry no padding.
    return base64.b32encode(data).rstrip(b"=").translate(_FROM_RFC4648).decode("ascii")


def _base32_decode(text: str) -> bytes:
    bits = 0
    for char in text:
        bits = (bits << 5) | _DECODE[char]
    byte_count = len(text) * 5 // 8
    return (bits >> (len(text) * 5 - byte_count * 8)).to_bytes(byte_count, "big")


def encode_id(table_number: int, internal_id: bytes) -> str:
    """Build the id string of document ``internal_id`` in table ``table_number``."""
    if not 0 < table_number < 2**32:
        raise ValueError(f"table number out of range: {table_number}")
    if len(internal_id) != INTERNAL_ID_BYTES:
        raise ValueError("internal ids are 16 bytes")
    body = _vint(table_number) + internal_id
    return _base32_encode(body + _fletcher16(body).to_bytes(2, "little"))


_random_bytes: Callable[[int], bytes] = os.urandom  # where id bytes come from (seeded by tests that ask)


def seed_ids(seed: int | None) -> None:
    """Draw new ids from ``random.Random(seed)``, so a test gets the same ids every run; None: ``os.urandom``."""
    global _random_bytes
    _random_bytes = os.urandom if seed is None else random.Random(seed).randbytes


def new_internal_id() -> bytes:
    """14 random bytes and the big-endian day number, like production Convex ids."""
    return _random_bytes(14) + (int(now_ms() / 1000) // 86_400 % 65_536).to_bytes(2, "big")


def new_id(table_number: int) -> str:
    """A fresh, never-reused id for a document of ``table_number``."""
    return encode_id(table_number, new_internal_id())


def decode_id(text: str) -> tuple[int, bytes]:
    """Return ``(table number, internal id)``; raise ``InvalidIdError`` for anything else.

    The same ids come back again and again (every ``db.get``, every argument validated), so valid
    ones are remembered.
    """
    decoded = _decoded.get(text) if type(text) is str else None
    if decoded is None:
        decoded = _decode_id(text)
        if len(_decoded) >= DECODED_CACHE_SIZE:
            _decoded.clear()
        _decoded[text] = decoded
    return decoded


def _decode_id(text: str) -> tuple[int, bytes]:
    if not isinstance(text, str) or not MIN_ID_LENGTH <= len(text) <= MAX_ID_LENGTH:
        raise InvalidIdError(f"Unable to decode ID: Invalid ID length {len(text) if isinstance(text, str) else '?'}")
    if any(char not in _DECODE for char in text):
        raise InvalidIdError(f"Unable to decode ID: Invalid character in ID {text!r}")
    raw = _base32_decode(text)
    table_number = shift = 0
    position = 0
    while True:
        if position >= len(raw) - 2 or position >= 5:
            raise InvalidIdError(f"Unable to decode ID: Invalid table number in ID {text!r}")
        byte = raw[position]
        table_number |= (byte & 0x7F) << shift
        shift += 7
        position += 1
        if not byte & 0x80:
            break
    if not 0 < table_number < 2**32:
        raise InvalidIdError(f"Unable to decode ID: Invalid table number in ID {text!r}")
    internal = raw[position:-2]
    if len(internal) != INTERNAL_ID_BYTES:
        raise InvalidIdError(f"Unable to decode ID: Invalid ID {text!r}")
    if int.from_bytes(raw[-2:], "little") != _fletcher16(raw[:-2]):
        raise InvalidIdError(f"Unable to decode ID: Invalid ID footer in {text!r}")
    if encode_id(table_number, internal) != text:
        raise InvalidIdError(f"Unable to decode ID: Non-canonical ID {text!r}")
    return table_number, internal


def id_table_number(text: str) -> int | None:
    """The table number ``text`` encodes, or ``None`` if it is not a valid id."""
    try:
        return decode_id(text)[0]
    except InvalidIdError:
        return None
