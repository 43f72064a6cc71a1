"""Where things are: the app directory, its data directory, and the server running on it.

A server announces itself with a discovery file ``<data>/server.json`` (its URL, its HTTP actions'
URL and its pid), written once it listens and removed when it stops, so ``opencom run`` and friends
can find it without being told a URL. The file alone proves nothing after a crash; a server is running only if the
pid in it is alive *and* the data directory's lock is held (see ``cli.data_lock``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cli.data_lock import DataDirLock
from cli.output import CliError, UsageError
from runtime.functions.executor import DEFAULT_DATA_DIR

SERVER_FILE = "server.json"


def add_location_options(parser: argparse.ArgumentParser) -> None:
    """The ``--app`` and ``--data`` options every command takes."""
    parser.add_argument(
        "--app",
        metavar="DIR",
        help="the app directory (holding functions/ and schema.py); default: the current directory",
    )
    parser.add_argument("--data", metavar="DIR", help=f"the data directory; default: <app>/{DEFAULT_DATA_DIR}")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="keep the rows in this PostgreSQL database (postgresql://user@host:port/db) instead of SQLite in the "
        "data directory; default: $OPENCOM_DATABASE_URL, else SQLite",
    )


def resolve_app(app: str | None) -> Path:
    """The app directory named by ``--app``, or the current directory if it is an app."""
    root = Path(app) if app is not None else Path.cwd()
    if not root.is_dir():
        raise UsageError(f"--app {app}: no such directory")
    if not (root / "functions").is_dir():
        if app is None:
            raise UsageError("the current directory is not an app (it has no functions/ directory); pass --app DIR")
        raise UsageError(f"--app {app}: not an app (it has no functions/ directory)")
    return root.resolve()


def resolve_data(app_dir: Path, data: str | None) -> Path:
    """The data directory named by ``--data``, or ``<app>/.opencom``."""
    if data is None:
        return app_dir / DEFAULT_DATA_DIR
    path = Path(data)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--data {data}: not a directory")
    return path.resolve()


def resolve_locations(args: argparse.Namespace) -> tuple[Path, Path]:
    """``(app_dir, data_dir)`` from a parsed command line (see ``add_location_options``)."""
    app_dir = resolve_app(args.app)
    return app_dir, resolve_data(app_dir, args.data)


def remote_locations(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """Like ``resolve_locations``, but with ``--url`` and no app in sight there are none (none are needed)."""
    try:
        return resolve_locations(args)
    except UsageError:
        if getattr(args, "url", None) and args.app is None and args.data is None:
            return None, None
        raise


@dataclass(frozen=True)
class ServerInfo:
    """What a running server announces: where to reach it and which process it is."""

    url: str
    pid: int


def write_server_file(data_dir: Path, url: str, site_url: str) -> None:
    """Announce this process as the server of ``data_dir`` (atomically: readers never see half a file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{SERVER_FILE}.{os.getpid()}"
    announcement = {"url": url, "siteUrl": site_url, "pid": os.getpid(), "started": time.time()}
    temporary.write_text(json.dumps(announcement) + "\n")
    temporary.replace(data_dir / SERVER_FILE)


def remove_server_file(data_dir: Path) -> None:
    """Withdraw the announcement, if it is still this process's."""
    path = data_dir / SERVER_FILE
    info = _read_server_file(path)
    if info is not None and info.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read_server_file(path: Path) -> ServerInfo | None:
    try:
        data = json.loads(path.read_text())
        return ServerInfo(url=str(data["url"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, just not ours
    return True


def find_server(data_dir: Path) -> ServerInfo | None:
    """The server running on ``data_dir``, or None (a stale discovery file is ignored)."""
    info = _read_server_file(data_dir / SERVER_FILE)
    if info is None or not _pid_alive(info.pid):
        return None
    if not DataDirLock(data_dir).is_held():
        return None
    return info


def server_url(args: argparse.Namespace, data_dir: Path | None) -> str | None:
    """The server to talk to: ``--url`` if given, else the one announced in ``data_dir``."""
    url: str | None = getattr(args, "url", None)
    if url:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--url {url}: expected an http:// or https:// URL")
        return url.rstrip("/")
    if data_dir is None:
        return None
    info = find_server(data_dir)
    return info.url if info is not None else None


def require_server_url(args: argparse.Namespace, data_dir: Path | None, command: str) -> str:
    """Like ``server_url`` but a running server is mandatory for ``command``."""
    url = server_url(args, data_dir)
    if url is None:
        where = f" on {data_dir}" if data_dir is not None else ""
        raise CliError(
            f"`opencom {command}` needs a running server{where}: start one with `opencom dev`, or pass --url"
        )
    return url
