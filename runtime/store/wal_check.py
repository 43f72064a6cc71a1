"""Reading a SQLite write-ahead log before SQLite does, to tell how many of its frames will be lost.

When SQLite opens a database whose WAL was cut mid-frame or holds a damaged frame, it replays the
frames up to the last valid commit and silently ignores the rest: acknowledged writes can vanish
without a word. This module walks the WAL the way SQLite's recovery does (header, salts, the
running checksum of every frame) and counts the frames of the current WAL generation that will
not be replayed. Frames left over from an earlier generation (other salts) are not data: SQLite
reuses the file from the start after a checkpoint and never reads them.

Format: a 32-byte header (magic, version, page size, checkpoint sequence, two salts, checksum)
then frames of a 24-byte header (page number, database size for a commit frame, the salts,
checksum) and one page. Checksums run over 32-bit words, big-endian when the magic's low bit is
set, each frame continuing from the previous one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGIC = 0x377F0682
_HEADER = 32
_FRAME_HEADER = 24


@dataclass(frozen=True, slots=True)
class WalReport:
    """What SQLite will make of one WAL file."""

    replayed_frames: int  # frames up to the last valid commit: what SQLite recovers
    dropped_frames: int  # frames of the current generation SQLite will ignore
    problem: str | None  # why frames are dropped, or None when none are

    @property
    def damaged(self) -> bool:
        return self.dropped_frames > 0 or self.problem is not None


def _checksum(data: bytes, big_endian: bool, s1: int, s2: int) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for index in range(0, len(words), 2):
        s1 = (s1 + words[index] + s2) & 0xFFFFFFFF
        s2 = (s2 + words[index + 1] + s1) & 0xFFFFFFFF
    return s1, s2


def inspect_wal(path: Path) -> WalReport | None:
    """The fate of ``path``'s frames, or None when there is no WAL (or an empty one) to replay."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if not data:
        return None
    if len(data) < _HEADER:
        return WalReport(0, 0, f"the WAL header is cut short ({len(data)} of {_HEADER} bytes)")
    magic, _, page_size, _, salt1, salt2, check1, check2 = struct.unpack(">8I", data[:_HEADER])
    page_ok = 512 <= page_size <= 65536 and page_size & (page_size - 1) == 0
    frame_size = _FRAME_HEADER + page_size if page_ok else 0
    whole = (len(data) - _HEADER) // frame_size if frame_size else 0
    if magic & 0xFFFFFFFE != _MAGIC or not page_ok:
        return WalReport(0, whole, "the WAL header is damaged: SQLite ignores the whole file")
    big_endian = bool(magic & 1)
    s1, s2 = _checksum(data[:24], big_endian, 0, 0)
    if (s1, s2) != (check1, check2):
        return WalReport(0, whole, "the WAL header checksum is wrong: SQLite ignores the whole file")
    replayed = 0
    frame = 0
    problem: str | None = None
    offset = _HEADER
    while offset + _FRAME_HEADER <= len(data):
        header = data[offset : offset + _FRAME_HEADER]
        _, commit_size, frame_salt1, frame_salt2, frame_check1, frame_check2 = struct.unpack(">6I", header)
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # an older generation's frame: the end of this one
        if offset + frame_size > len(data):
            problem = f"frame {frame + 1} is cut short"
            frame += 1
            break
        s1, s2 = _checksum(header[:8] + data[offset + _FRAME_HEADER : offset + frame_size], big_endian, s1, s2)
        if (s1, s2) != (frame_check1, frame_check2):
            problem = f"frame {frame + 1} fails its checksum"
            frame += 1 + _later_frames_of_generation(data, offset + frame_size, frame_size, salt1, salt2)
            break
        frame += 1
        offset += frame_size
        if commit_size:
            replayed = frame
    if problem is None and frame > replayed:
        problem = f"the last {frame - replayed} frame(s) belong to a commit that never completed"
    return WalReport(replayed, frame - replayed, problem)


def _later_frames_of_generation(data: bytes, offset: int, frame_size: int, salt1: int, salt2: int) -> int:
    """Frames after a damaged one that still carry this generation's salts (lost with it)."""
    count = 0
    while offset + _FRAME_HEADER <= len(data):
        if struct.unpack(">2I", data[offset + 8 : offset + 16]) != (salt1, salt2):
            break
        count += 1
        offset += frame_size
    return count
