"""Making file writes survive a crash: flush data to disk, and the directory entry that names it.

A renamed or linked file is only durable once its directory is synced too; without that a crash
can lose the name even though the bytes were written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


def sync_file(file: IO[bytes]) -> None:
    """Flush Python's buffer and the OS's cache of ``file`` to disk."""
    file.flush()
    os.fsync(file.fileno())


def sync_directory(directory: Path) -> None:
    """Make the entries of ``directory`` (new, renamed or linked files) durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
