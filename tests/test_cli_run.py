"""``opencom run`` with no server: the function runs in the CLI process, on the data directory."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_harness import CLI_APP, opencom


def run(data: Path, *args: str) -> tuple[int, str, str]:
    result = opencom("run", "--app", CLI_APP, "--data", data, *args)
    return result.returncode, result.stdout, result.stderr


def test_a_mutation_then_a_query_print_their_results_as_json(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "messages:send", '{"author": "ada", "body": "hello"}')
    assert code == 0, err
    message_id = json.loads(out)
    assert "[CONVEX M(messages:send)] [LOG] sending hello" in err

    code, out, err = run(tmp_path, "messages:list")
    assert code == 0, err
    [message] = json.loads(out)
    assert message["_id"] == message_id
    assert (message["author"], message["body"]) == ("ada", "hello")


def test_results_are_exact_convex_json(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "things:double", '{"n": {"$integer": "BQAAAAAAAAA="}}')
    assert code == 0
    assert json.loads(out) == {"$integer": "CgAAAAAAAAA="}  # int64 10, not the float 10.0


def test_an_unknown_function_is_one_line_and_exit_1(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "messages:nope")
    assert code == 1 and out == ""
    assert err == "error: Could not find public function for 'messages:nope'.\n"


def test_invalid_json_arguments_are_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "messages:send", "{author: ada}")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ARGS is not valid JSON")


def test_arguments_that_are_not_an_object_are_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "messages:send", "[1, 2]")
    assert code == 2
    assert err.startswith("error: ARGS must be a JSON object")


def test_wrong_arguments_name_the_bad_field_on_one_line(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "messages:send", '{"author": 1, "body": "x"}')
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ArgumentValidationError: Value does not match validator.")
    assert "Path: .author" in err


def test_a_missing_function_argument_is_a_usage_error(tmp_path: Path) -> None:
    result = opencom("run", "--app", CLI_APP, "--data", tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "FUNCTION" in result.stderr


def test_internal_functions_need_admin(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "messages:wipe")
    assert code == 1
    assert err == "error: Could not find public function for 'messages:wipe'. (it is internal: pass --admin)\n"
    code, out, err = run(tmp_path, "messages:wipe", "--admin")
    assert code == 0, err
    assert json.loads(out) is None


def test_identity_is_what_the_function_sees(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "things:whoami", "--identity", '{"subject": "u1", "issuer": "https://auth.test"}')
    assert code == 0, err
    assert json.loads(out) == {
        "subject": "u1",
        "issuer": "https://auth.test",
        "tokenIdentifier": "https://auth.test|u1",
    }


def test_watch_needs_a_server(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "messages:list", "--watch")
    assert code == 1 and "--watch needs a running server" in err


def test_a_directory_that_is_not_an_app_is_refused(tmp_path: Path) -> None:
    result = opencom("run", "messages:list", cwd=tmp_path)
    assert result.returncode == 2
    assert "not an app" in result.stderr


def test_the_current_directory_is_the_default_app(tmp_path: Path) -> None:
    result = opencom("run", "--data", tmp_path, "messages:list", cwd=CLI_APP)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
