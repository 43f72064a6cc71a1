"""Every benchmark script still starts: its imports resolve (the helpers in ``bench/versions.py``
included) and its options parse.

Benchmarks are not run by the suite (they print ratios for a person to read), so a renamed
function they import would otherwise go unnoticed until someone runs one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if 'if __name__ == "__main__":' in path.read_text())


def test_scripts_are_found() -> None:
    assert "opencom_load.py" in SCRIPTS and "cluster.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_benchmark_prints_its_usage(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
