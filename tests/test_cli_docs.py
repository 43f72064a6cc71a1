"""``docs/cli.md`` is generated from ``--help``: this fails as soon as it no longer matches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gen_cli_docs.py"


def test_the_cli_reference_matches_the_help_texts() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
