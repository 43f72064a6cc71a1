"""A damaged data directory: a cut or corrupted WAL is reported loudly, a damaged page clearly.

Acknowledged writes go through the real server, which is then killed (``kill -9``) so its WAL is
left unreplayed; the test damages the WAL the way a bad disk or a cut copy would, and checks what
``opencom check`` and the next server start say about it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp

from runtime.database.database import DATABASE_FILE
from tests.cli_harness import opencom
from tests.server_fixtures import REPO, RunningServer, start_server

APP = Path(__file__).parent / "apps" / "security"
ENV = {"OPENCOM_SQLITE_SYNCHRONOUS": "FULL"}
WAL_HEADER = 32


async def write_notes(server: RunningServer, count: int) -> None:
    async with aiohttp.ClientSession() as http:
        for number in range(count):
            body = {"path": "notes:add", "args": {"text": f"note {number}"}}
            async with http.post(f"{server.url}/api/mutation", json=body) as response:
                assert (await response.json())["status"] == "success"


def notes_count(server: RunningServer) -> int:
    request = urllib.request.Request(
        f"{server.url}/api/query", data=json.dumps({"path": "notes:list", "args": {}}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(json.loads(response.read())["value"])


async def crashed_with_wal(tmp_path: Path, notes: int = 6) -> tuple[Path, Path]:
    """A data directory whose server was killed after ``notes`` acknowledged writes; (data dir, WAL)."""
    server = start_server(APP, tmp_path / "data", env=ENV)
    await write_notes(server, notes)
    server.kill()
    wal = server.data_dir / (DATABASE_FILE + "-wal")
    assert wal.stat().st_size > WAL_HEADER
    return server.data_dir, wal


def page_size(wal: Path) -> int:
    return int.from_bytes(wal.read_bytes()[8:12], "big")


async def test_a_cut_wal_is_reported_by_check_and_loudly_at_start(tmp_path: Path) -> None:
    data_dir, wal = await crashed_with_wal(tmp_path)
    assert opencom("check", "--app", APP, "--data", data_dir).returncode == 0
    wal.write_bytes(wal.read_bytes()[: -(page_size(wal) // 2)])  # cut in the middle of the last frame

    checked = opencom("check", "--app", APP, "--data", data_dir)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    dropped = r"problem: write-ahead log: [1-9]\d* frame\(s\) will be dropped: frame \d+ is cut short"
    assert re.search(dropped, checked.stdout)

    server = start_server(APP, data_dir, env=ENV)
    try:
        assert re.search(
            r"THE WRITE-AHEAD LOG OF .+ IS DAMAGED: [1-9]\d* frame\(s\) dropped \(frame \d+ is cut short\)", server.log()
        )
        assert notes_count(server) == 5  # the last acknowledged write went with the cut frame
    finally:
        server.stop()


async def test_garbage_in_a_wal_frame_drops_it_and_every_later_frame(tmp_path: Path) -> None:
    data_dir, wal = await crashed_with_wal(tmp_path)
    frames = (wal.stat().st_size - WAL_HEADER) // (24 + page_size(wal))
    damaged = bytearray(wal.read_bytes())
    damaged[WAL_HEADER + 24 + 100] ^= 0xFF  # inside the first frame's page
    wal.write_bytes(bytes(damaged))

    checked = opencom("check", "--app", APP, "--data", data_dir)
    assert checked.returncode == 1
    assert f"problem: write-ahead log: {frames} frame(s) will be dropped: frame 1 fails its checksum" in checked.stdout
    server = start_server(APP, data_dir, env=ENV)
    try:
        assert f"IS DAMAGED: {frames} frame(s) dropped (frame 1 fails its checksum)" in server.log()
    finally:
        server.stop()


async def test_a_clean_data_directory_checks_ok(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=ENV)
    await write_notes(server, 3)
    server.stop()
    checked = opencom("check", "--app", APP, "--data", server.data_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == f"ok: {server.data_dir} is consistent"
    assert "IS DAMAGED" not in server.log()


async def test_a_damaged_database_page_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    server = start_server(APP, tmp_path / "data", env=ENV)
    await write_notes(server, 3)
    server.stop()  # a clean stop: everything is in the database file, no WAL left
    database = server.data_dir / DATABASE_FILE
    damaged = bytearray(database.read_bytes())
    damaged[100:4096] = b"\xa5" * (4096 - 100)  # the schema page, after the file header
    database.write_bytes(bytes(damaged))

    command = [sys.executable, "-m", "runtime.server", "--app", str(APP), "--data", str(server.data_dir), "--port", "0"]
    started = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert "Traceback" not in started.stderr
    assert started.stderr.startswith(f"error: The database {database} is damaged and cannot be opened (")
    assert "Run `opencom check`" in started.stderr

    served = opencom("serve", "--app", APP, "--data", server.data_dir, "--port", "0")
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert "is damaged and cannot be opened" in served.stderr
    checked = opencom("check", "--app", APP, "--data", server.data_dir)
    assert checked.returncode == 1 and "problem: database" in checked.stdout
