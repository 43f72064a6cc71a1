"""The official npm ``convex`` package for every test that drives it from Node (tests/npm/*.mjs).

The package is installed by the tests themselves into tests/npm/node_modules (git-ignored) from
the committed lock file, under a file lock so that concurrent test runs do not install over each
other. Only a machine without ``node``/``npm`` skips those tests.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.values.values import from_json
from tests.server_fixtures import REPO, start_server

NPM_DIR = Path(__file__).parent / "npm"
INSTALL_TIMEOUT_S = 600.0


def wanted_version() -> str:
    """The ``convex`` version tests/npm/package.json pins."""
    return str(json.loads((NPM_DIR / "package.json").read_text())["dependencies"]["convex"])


def installed_version() -> str | None:
    """The ``convex`` version installed in tests/npm/node_modules, or None."""
    manifest = NPM_DIR / "node_modules" / "convex" / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else None


def node_with_convex() -> str:
    """The ``node`` binary, with the pinned ``convex`` installed beside the drivers.

    Skips the calling test (printing why) when ``node`` or ``npm`` is missing.
    """
    node_binary, npm_binary = shutil.which("node"), shutil.which("npm")
    if node_binary is None or npm_binary is None:
        reason = "node and npm are not installed" if node_binary is None else "npm is not installed"
        print(f"skipping the npm client tests: {reason}")
        pytest.skip(reason)
    with open(NPM_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version() != wanted_version():
            completed = subprocess.run(
                [npm_binary, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                check=False,
                cwd=NPM_DIR,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
            assert completed.returncode == 0, f"npm ci failed:\n{completed.stdout}\n{completed.stderr}"
        assert installed_version() == wanted_version()
    return node_binary


def scenario_steps(script: str, data_dir: Path, *args: str, timeout_s: float = 180.0) -> dict[str, object]:
    """Run an Opencom scenario script (tests/npm/*_e2e.mjs) against a fresh real server.

    The script gets the server's URL and ``args``, and prints one ``{"step", "value"}`` JSON line
    per observation; returns the values (decoded from Convex JSON) by step name, after checking
    the script reached ``done``.
    """
    node = node_with_convex()
    server = start_server(REPO, data_dir)
    try:
        completed = subprocess.run(
            [node, script, server.url, *args],
            cwd=NPM_DIR,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        records = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
        steps = {record["step"]: record for record in records}
        assert completed.returncode == 0 and "done" in steps, (
            f"the scenario failed:\n{completed.stdout}\nstderr:\n{completed.stderr}\nserver log:\n{server.log()[-4000:]}"
        )
        return {step: from_json(record["value"]) for step, record in steps.items()}
    finally:
        server.stop()
