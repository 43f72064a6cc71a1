"""``opencom serve``/``dev`` and the commands that find a running server through its data directory."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from cli.data_lock import locked
from tests.cli_harness import CLI_APP, Background, opencom, running_server


def test_run_goes_to_the_live_server_and_a_concurrent_watch_sees_the_write(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path) as (url, _):
        watch = Background("run", "--app", CLI_APP, "--data", tmp_path, "messages:list", "--watch")
        try:
            watch.wait_for(r"^\[\]\n")  # the first result: no messages yet
            sent = opencom(
                "run", "--app", CLI_APP, "--data", tmp_path, "messages:send", '{"author": "ada", "body": "live"}'
            )
            assert sent.returncode == 0, sent.stderr
            message_id = json.loads(sent.stdout)
            watch.wait_for(f'"_id": "{message_id}"')
        finally:
            assert watch.interrupt() == 0
        assert f"Watching messages:list on {url}" in "".join(watch.stderr)
        listed = opencom("run", "--url", url, "messages:list")
        assert [message["body"] for message in json.loads(listed.stdout)] == ["live"]


def test_errors_from_the_server_are_one_line(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve"):
        result = opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:send", '{"author": 1, "body": "x"}')
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: ArgumentValidationError: Value does not match validator.")
        unknown = opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:nope")
        assert unknown.returncode == 1
        assert unknown.stderr == "error: Could not find public function for 'messages:nope'.\n"


def test_admin_and_identity_reach_the_server(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve"):
        refused = opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:wipe")
        assert refused.returncode == 1
        wiped = opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:wipe", "--admin")
        assert wiped.returncode == 0, wiped.stderr
        who = opencom(
            "run",
            "--app",
            CLI_APP,
            "--data",
            tmp_path,
            "things:whoami",
            "--identity",
            '{"subject": "u1", "issuer": "iss"}',
        )
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["tokenIdentifier"] == "iss|u1"


def test_the_server_announces_itself_in_the_data_directory_until_it_stops(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve") as (url, server):
        announced = json.loads((tmp_path / "server.json").read_text())
        assert announced["url"] == url and announced["pid"] == server.process.pid
        server.wait_for(r"admin key: in \S*admin_key")
        server.wait_for(r"try:\s+opencom run messages:list")
    assert not (tmp_path / "server.json").exists()
    assert server.process.returncode == 0


def test_a_second_server_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve") as (url, server):
        second = opencom("serve", "--app", CLI_APP, "--data", tmp_path, "--port", "0")
        assert second.returncode == 1
        assert second.stderr == f"error: a server is already running on {tmp_path}: {url} (pid {server.process.pid})\n"


def test_no_server_starts_while_a_command_holds_the_data_directory(tmp_path: Path) -> None:
    with locked(tmp_path, "test"):
        refused = opencom("serve", "--app", CLI_APP, "--data", tmp_path, "--port", "0")
    assert refused.returncode == 1 and "in use" in refused.stderr


def test_logs_stream_function_executions(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve"):
        logs = Background("logs", "--app", CLI_APP, "--data", tmp_path, "--success")
        try:
            logs.wait_for("Watching logs", stream="stderr")
            opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:send", '{"author": "a", "body": "logged"}')
            logs.wait_for(r"\[CONVEX M\(messages:send\)\] \[LOG\] sending logged")
            logs.wait_for(r"\[CONVEX M\(messages:send\)\] Function executed in")
            opencom("run", "--app", CLI_APP, "--data", tmp_path, "messages:send", '{"author": 1}')
            logs.wait_for(r"\[CONVEX M\(messages:send\)\] ArgumentValidationError")
        finally:
            assert logs.interrupt() == 0


def test_import_is_refused_while_a_server_runs(tmp_path: Path) -> None:
    table = tmp_path / "messages.jsonl"
    table.write_text('{"author": "a", "body": "b"}\n')
    data = tmp_path / "data"
    with running_server(CLI_APP, data, command="serve"):
        result = opencom("import", "--app", CLI_APP, "--data", data, table)
    assert result.returncode == 1 and "stop it before importing" in result.stderr


def test_env_changes_go_through_the_running_server(tmp_path: Path) -> None:
    with running_server(CLI_APP, tmp_path, command="serve"):
        common = ("--app", CLI_APP, "--data", tmp_path)
        assert opencom("env", "set", "REGION", "eu", *common).returncode == 0
        seen = opencom("run", *common, "things:env", '{"name": "REGION"}')
        assert seen.returncode == 0 and json.loads(seen.stdout) == "eu", seen.stderr
        assert opencom("env", "list", *common).stdout == "REGION=eu\n"
        assert opencom("env", "remove", "REGION", *common).returncode == 0
        missing = opencom("env", "remove", "REGION", *common)
        assert (missing.returncode, missing.stderr) == (1, "error: environment variable REGION is not set\n")
        bad = opencom("env", "set", "1BAD", "x", *common)
        assert bad.returncode == 1 and "Invalid environment variable name" in bad.stderr


def test_a_busy_port_is_named_with_the_option_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        for options, moved_by in ((["--port", busy], "--port"), (["--port", "0", "--site-port", busy], "--site-port")):
            refused = opencom("serve", "--app", CLI_APP, "--data", tmp_path, *map(str, options))
            assert refused.returncode == 1
            assert refused.stderr == f"error: cannot listen on 127.0.0.1: port {busy} (pass {moved_by}) is in use\n"
