"""The admin key: one per deployment, private to its owner, compared safely, and what lets an
operator run internal functions and act as a given user."""

from __future__ import annotations

import base64
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from runtime.auth import AuthError
from runtime.functions.executor import Executor
from runtime.tokens.admin_key import ADMIN_KEY_FILE, ensure_admin_key, split_admin_credential
from runtime.tokens.deployment import DeploymentAuth
from runtime.tokens.identity import identity_from_attributes

AUTH_APP = Path(__file__).parent / "apps" / "auth"


def _deployment(data_dir: Path) -> DeploymentAuth:
    return DeploymentAuth(data_dir, None, site_url=lambda: "http://127.0.0.1:3211")


def test_the_key_is_generated_once_and_readable_only_by_its_owner(tmp_path: Path) -> None:
    key = _deployment(tmp_path).admin_key
    assert len(key) == 64 and int(key, 16) >= 0
    assert stat.S_IMODE((tmp_path / ADMIN_KEY_FILE).stat().st_mode) == 0o600
    assert _deployment(tmp_path).admin_key == key
    assert ensure_admin_key(tmp_path) == key


def test_processes_racing_to_create_the_key_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: ensure_admin_key(tmp_path / "data"), range(32)))
    assert len(keys) == 1
    assert [path.name for path in (tmp_path / "data").iterdir()] == [ADMIN_KEY_FILE]


@pytest.mark.parametrize("candidate", ["", "nope", None, 42, "KEY"])
def test_anything_but_the_key_is_refused(tmp_path: Path, candidate: Any) -> None:
    deployment = _deployment(tmp_path)
    assert deployment.is_admin_key(deployment.admin_key)
    value = deployment.admin_key.upper() if candidate == "KEY" else candidate
    assert not deployment.is_admin_key(value)


def _encoded(attributes: Any) -> str:
    return base64.b64encode(json.dumps(attributes).encode()).decode()


def test_an_admin_credential_may_carry_an_identity_to_act_as() -> None:
    assert split_admin_credential("secret") == ("secret", None)
    key, identity = split_admin_credential(f"secret:{_encoded({'subject': 'u1', 'issuer': 'https://x', 'n': 1})}")
    assert key == "secret"
    assert identity == {"subject": "u1", "issuer": "https://x", "n": 1.0, "tokenIdentifier": "https://x|u1"}


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ("secret:!!!", "not base64 JSON"),
        (f"secret:{_encoded(['not', 'an', 'object'])}", "must be an object"),
        (f"secret:{_encoded({'subject': 'u1'})}", "string `subject` and `issuer`"),
        (f"secret:{_encoded({'subject': 'u1', 'issuer': 'i', '$bad': 1})}", "not a Convex object"),
    ],
)
def test_a_malformed_identity_to_act_as_is_refused(credential: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        split_admin_credential(credential)


async def test_admin_calls_reach_internal_functions_and_act_as_a_user(open_executor: Any) -> None:
    executor: Executor = open_executor(AUTH_APP)
    probe = {"args": {"type": "retrieveAccount", "provider": "password", "accountId": "nobody@example.com"}}
    hidden = await executor.run("auth:store", probe)
    assert "Could not find public function for 'auth:store'" in str(hidden.error)
    reached = await executor.run("auth:store", probe, admin=True)
    assert reached.ok and reached.value is None  # no such account (an attempt is spent all the same)
    acting_as = identity_from_attributes({"subject": "someone|session", "issuer": "https://ops", "name": "Op"})
    assert await executor.call("me:whoami", identity=acting_as, admin=True) == acting_as
