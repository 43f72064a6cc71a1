"""How text becomes search terms: one rule for documents and queries, in both stores.

Both stores index the terms this yields (SQLite's FTS5 tables and PostgreSQL's ``tsvector`` rows), so
a search matches the same documents whichever store holds them.
"""

from __future__ import annotations

import re

from runtime import knobs

_TOKEN = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased runs of letters and digits, dropping tokens of 32 bytes or more."""
    return [token for token in _TOKEN.findall(text.lower()) if len(token.encode()) < knobs.MAX_SEARCH_TERM_BYTES]
