"""The exclusive lock on a data directory: one process at a time may write its database.

The database keeps its commit timestamp, catalog and writer queue in memory, so two processes
writing one SQLite file would hand out clashing timestamps and miss each other's tables. A server
holds ``<data>/lock`` for its whole life, and an in-process ``opencom run``/``import``/``env set``
holds it while it works; whoever comes second gets a clear error instead of a corrupt store.
The lock is an OS ``flock``, so it vanishes with its process even after ``kill -9``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.output import CliError
from runtime import knobs

LOCK_FILE = "lock"


class DataDirLock:
    """The lock file of one data directory; ``acquire`` holds it exclusively or raises ``CliError``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, purpose: str) -> None:
        """Take the lock, retrying briefly (another process may only be peeking); ``purpose`` goes in errors."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + knobs.CLI_LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise CliError(
                        f"cannot {purpose}: the data directory {self.data_dir} is in use by another opencom "
                        f"process{holder} (a server, or a command writing to it)"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (closing the file releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def is_held(self) -> bool:
        """Whether some process (this one included, through another lock object) holds the lock now."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock if we got it
        return False


@contextmanager
def locked(data_dir: Path, purpose: str) -> Iterator[DataDirLock]:
    """Hold ``data_dir`` exclusively for the ``with`` block (see ``DataDirLock.acquire``)."""
    lock = DataDirLock(data_dir)
    lock.acquire(purpose)
    try:
        yield lock
    finally:
        lock.release()


def _holder(fd: int) -> str:
    """`` (pid N)`` from the lock file, when the holder wrote it."""
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""
