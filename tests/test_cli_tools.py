"""``opencom function-spec``, ``admin-key``, ``env`` and ``--help``."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from cli.main import build_parser
from tests.cli_harness import CLI_APP, opencom


def cli(data: Path, *args: str) -> tuple[int, str, str]:
    result = opencom(*args, "--app", CLI_APP, "--data", data)
    return result.returncode, result.stdout, result.stderr


def test_function_spec_lists_every_function_with_its_validators(tmp_path: Path) -> None:
    code, out, _ = cli(tmp_path, "function-spec")
    assert code == 0
    functions = {entry["path"]: entry for entry in json.loads(out)["functions"]}
    assert set(functions) == {
        "files:read",
        "files:upload",
        "messages:list",
        "messages:send",
        "messages:wipe",
        "things:add",
        "things:double",
        "things:env",
        "things:list",
        "things:whoami",
    }
    send = functions["messages:send"]
    assert (send["kind"], send["visibility"]) == ("mutation", "public")
    assert send["args"]["value"]["body"] == {"fieldType": {"type": "string"}, "optional": False}
    assert send["returns"] == {"type": "any"}
    assert functions["messages:wipe"]["visibility"] == "internal"
    assert functions["things:double"]["kind"] == "action"
    assert functions["things:double"]["args"]["value"]["n"]["fieldType"] == {
        "type": "bigint"
    }  # Convex's name for int64


def test_admin_key_is_created_once_and_private(tmp_path: Path) -> None:
    code, first, _ = cli(tmp_path, "admin-key")
    assert code == 0 and len(first.strip()) >= 32
    assert cli(tmp_path, "admin-key")[1] == first
    assert (tmp_path / "admin_key").read_text().strip() == first.strip()
    assert stat.S_IMODE((tmp_path / "admin_key").stat().st_mode) == 0o600


def test_env_variables_are_set_read_by_functions_listed_and_removed(tmp_path: Path) -> None:
    assert cli(tmp_path, "env", "set", "API_KEY", "s3cr=t value")[0] == 0
    assert cli(tmp_path, "env", "set", "REGION", "eu")[0] == 0
    assert cli(tmp_path, "env", "get", "API_KEY")[1] == "s3cr=t value\n"
    assert cli(tmp_path, "env", "list")[1] == "API_KEY=s3cr=t value\nREGION=eu\n"
    code, out, _ = cli(tmp_path, "run", "things:env", '{"name": "API_KEY"}')
    assert code == 0 and json.loads(out) == "s3cr=t value"

    assert cli(tmp_path, "env", "remove", "API_KEY")[0] == 0
    code, _, err = cli(tmp_path, "env", "get", "API_KEY")
    assert code == 1 and err == "error: environment variable API_KEY is not set\n"
    code, _, err = cli(tmp_path, "env", "remove", "API_KEY")
    assert code == 1


def test_env_rejects_invalid_names(tmp_path: Path) -> None:
    code, _, err = cli(tmp_path, "env", "set", "1BAD", "x")
    assert code == 1 and "Invalid environment variable name" in err and err.count("\n") == 1


def _commands() -> list[list[str]]:
    """Every command and subcommand of the parser, as argument lists."""
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


@pytest.mark.parametrize("command", [[], *_commands()], ids=lambda command: " ".join(command) or "opencom")
def test_every_command_has_help(command: list[str]) -> None:
    result = opencom(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: opencom{' ' if command else ''}{' '.join(command)}")
