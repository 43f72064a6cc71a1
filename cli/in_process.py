"""Working on an app without a server: load its code, open its database under the data lock.

Commands that need no network (``run`` with no server up, ``import``, ``env``) open the app's
``Executor`` right here. They hold the data directory's lock the whole time, so no server can
start on the same database meanwhile (see ``cli.data_lock``).
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cli.data_lock import DataDirLock
from cli.output import CliError
from runtime.database.database import Database
from runtime.functions.app_loader import App, load_app
from runtime.functions.executor import Executor


def describe_load_error(app_dir: Path, error: BaseException) -> str:
    """``SyntaxError: ... (functions/x.py:3)``: the error and where in the app's own code it arose."""
    where = ""
    if isinstance(error, SyntaxError) and error.filename:
        where = _relative(app_dir, error.filename, error.lineno)
    else:
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if frame.filename and Path(frame.filename).resolve().is_relative_to(app_dir):
                where = _relative(app_dir, frame.filename, frame.lineno)
                break
    detail = error.msg if isinstance(error, SyntaxError) else str(error)  # str() repeats the location
    message = f"{type(error).__name__}: {detail}"
    return f"{message} ({where})" if where else message


def _relative(app_dir: Path, filename: str, line: int | None) -> str:
    path = Path(filename).resolve()
    shown = path.relative_to(app_dir).as_posix() if path.is_relative_to(app_dir) else filename
    return f"{shown}:{line}" if line else shown


def load_app_or_fail(app_dir: Path) -> App:
    """``load_app``, with a failure in the app's own code turned into a one-line ``CliError``."""
    try:
        return load_app(app_dir)
    except Exception as error:  # noqa: BLE001 - anything user code raises while importing
        raise CliError(f"cannot load the app in {app_dir}: {describe_load_error(app_dir, error)}") from None


@asynccontextmanager
async def open_executor(app_dir: Path, data_dir: Path, purpose: str) -> AsyncIterator[Executor]:
    """The app's executor on ``data_dir``, holding the data lock until the block ends."""
    app = load_app_or_fail(app_dir)
    lock = DataDirLock(data_dir)
    lock.acquire(purpose)
    try:
        try:
            database = Database(data_dir, app.schema)
        except Exception as error:  # noqa: BLE001 - e.g. a schema the stored data cannot take
            raise CliError(f"cannot open the database in {data_dir}: {error}") from None
        executor = Executor(app, database)
        # A one-shot command must not start due scheduled jobs only to cut them off when it exits.
        executor.run_scheduled_jobs = False
        try:
            yield executor
        finally:
            await executor.close()
    finally:
        lock.release()
