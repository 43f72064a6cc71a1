"""``opencom dev``'s hot reload: notice edited app files, load the new code, swap it in live.

The app's files are polled (modification time and size) rather than watched with OS hooks: no
dependency, same behaviour everywhere, and the cost of a few ``stat`` calls per interval is
nothing. A change is acted on once the files have stopped changing for one interval, so an
editor's save-in-several-steps is read whole. The new code is imported into a fresh namespace and
handed to ``Executor.reload``, which keeps every connection and subscription; code that fails to
import, or a schema the stored documents violate, is reported and the previous code keeps serving.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cli.in_process import describe_load_error
from cli.output import notice
from runtime import knobs
from runtime.database.schema_change import SchemaChangeError
from runtime.functions.app_loader import load_app
from runtime.functions.executor import Executor

Snapshot = dict[Path, tuple[int, int]]
WATCHED_FILES = ("schema.py", "auth_config.py")


def source_files(app_dir: Path) -> list[Path]:
    """The files that make up the app's code: ``schema.py``, ``auth_config.py``, ``functions/**/*.py``."""
    files = [app_dir / name for name in WATCHED_FILES if (app_dir / name).is_file()]
    files.extend(sorted((app_dir / "functions").rglob("*.py")))
    return files


def snapshot(app_dir: Path) -> Snapshot:
    """Modification time and size of every source file (a vanished file simply drops out)."""
    stamps: Snapshot = {}
    for path in source_files(app_dir):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        stamps[path] = (status.st_mtime_ns, status.st_size)
    return stamps


def changed_files(before: Snapshot, after: Snapshot, app_dir: Path) -> list[str]:
    """The files added, removed or modified between two snapshots, relative to the app."""
    paths = set(before) | set(after)
    return sorted(path.relative_to(app_dir).as_posix() for path in paths if before.get(path) != after.get(path))


async def watch_and_reload(executor: Executor, app_dir: Path, loaded: Snapshot) -> None:
    """Reload ``executor`` whenever the app's files differ from ``loaded`` (taken before its code was
    imported, so an edit made while the server started is not missed); runs until cancelled."""
    current = loaded
    while True:
        await asyncio.sleep(knobs.DEV_POLL_INTERVAL_S)
        latest = snapshot(app_dir)
        if latest == current:
            continue
        # Wait for the burst of writes to settle before reading the code.
        settled = latest
        while True:
            await asyncio.sleep(knobs.DEV_POLL_INTERVAL_S)
            latest = snapshot(app_dir)
            if latest == settled:
                break
            settled = latest
        changes = changed_files(current, latest, app_dir)
        current = latest
        await reload_once(executor, app_dir, changes)


async def reload_once(executor: Executor, app_dir: Path, changes: list[str]) -> bool:
    """Load the app afresh and swap it in; report the outcome. Returns whether the new code serves now."""
    what = ", ".join(changes)
    try:
        app = load_app(app_dir)
    except Exception as error:  # noqa: BLE001 - the user's code failed to import
        notice(f"✖ {what}: {describe_load_error(app_dir, error)}; still serving the previous code")
        return False
    try:
        await executor.reload(app)
    except SchemaChangeError as error:
        notice(f"✖ {what}: {error}\n  Still serving the previous code and schema.")
        return False
    except Exception as error:  # noqa: BLE001 - e.g. a schema the store cannot install
        notice(f"✖ {what}: cannot apply the new code: {type(error).__name__}: {error}; still serving the previous code")
        return False
    note = " (auth_config.py changes apply after a restart)" if "auth_config.py" in changes else ""
    notice(f"✔ Reloaded {len(app.functions)} functions after changes to {what}{note}")
    return True
