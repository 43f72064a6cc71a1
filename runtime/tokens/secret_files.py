"""Secrets a deployment generates once and keeps in its data directory (admin key, signing key).

A secret must be created exactly once even when two processes open the same data directory at
the same moment, must never be readable by other users, and must never be half-written. So it is
written to a private temporary file and hard-linked into place: ``link`` refuses to replace an
existing file, so whoever links first wins and everyone reads the winner's bytes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from runtime.store.durable_files import sync_directory, sync_file

SECRET_FILE_MODE = 0o600


def read_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The contents of ``path``; if it does not exist yet, ``make()`` is stored there (mode 0600) first."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(make())
            sync_file(file)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first; its secret is the one
        sync_directory(path.parent)  # or a crash could lose the name, and the secret would change
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes()

