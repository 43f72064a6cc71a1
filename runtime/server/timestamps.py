"""Commit timestamps on the wire: a u64 as 8 little-endian bytes in padded standard base64.

Both sides of the sync protocol (the server and our client) speak it; the official Rust client
caps timestamps at ``i64::MAX``, so nothing larger is ever produced or accepted.
"""

from __future__ import annotations

import base64
import struct
from functools import lru_cache
from typing import Final

MAX_TS: Final = 2**63 - 1


@lru_cache(maxsize=256)  # a commit's Transitions to every connection all carry its ts
def encode_ts(ts: int) -> str:
    """The 12-character wire form of ``ts`` (``0`` is ``"AAAAAAAAAAA="``)."""
    if not 0 <= ts <= MAX_TS:
        raise ValueError(f"Timestamp {ts} is out of range (0 to i64::MAX)")
    return base64.b64encode(struct.pack("<Q", ts)).decode()


def decode_ts(text: str) -> int:
    """The inverse of ``encode_ts``; raises ``ValueError`` for anything but 12 canonical characters."""
    if not isinstance(text, str) or len(text) != 12:
        raise ValueError(f"Invalid timestamp {text!r}: expected 12 base64 characters")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"Invalid timestamp {text!r}: not base64") from None
    (ts,) = struct.unpack("<Q", raw)
    if ts > MAX_TS:
        raise ValueError(f"Invalid timestamp {text!r}: larger than i64::MAX")
    return int(ts)
