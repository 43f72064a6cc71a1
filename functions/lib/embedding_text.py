"""How content becomes embedding inputs: chunks with overlap, display snippets and change hashes."""

from __future__ import annotations

import hashlib
import re

CHUNK_MAX_CHARS = 3000
CHUNK_OVERLAP_CHARS = 300
SNIPPET_MAX_CHARS = 200


def _break_point(window: str, min_break: int) -> int | None:
    """Where to end a chunk inside ``window``: a paragraph, line or sentence end past ``min_break``."""
    sentence = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
    for candidate in (window.rfind("\n\n"), window.rfind("\n"), sentence):
        if candidate >= min_break:
            return candidate
    return None


def split_into_chunks(content: str, max_chars: int = CHUNK_MAX_CHARS, overlap: int = CHUNK_OVERLAP_CHARS) -> list[str]:
    """Consecutive pieces of at most ``max_chars``, cut at natural breaks, overlapping by ``overlap``.

    Long articles are embedded piecewise so one topic deep in a long text still finds it.
    """
    text = content.replace("\r\n", "\n").strip()
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = _break_point(text[start:end], int(max_chars * 0.6))
            if cut is not None:
                end = start + cut + 1
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return chunks or [text]


def snippet_of(text: str, max_chars: int = SNIPPET_MAX_CHARS) -> str:
    """Plain text (tags stripped, whitespace collapsed) cut to ``max_chars`` with an ellipsis."""
    cleaned = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", text)).strip()
    return cleaned if len(cleaned) <= max_chars else cleaned[: max_chars - 3] + "..."


def text_hash(model: str, title: str, content: str) -> str:
    """SHA-256 of what an embedding depends on: the model and the text (unchanged hash: skip work)."""
    return hashlib.sha256(f"{model}\n{title}\n\n{content}".encode()).hexdigest()
