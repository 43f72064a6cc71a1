"""The demo workspace: ``demo:seed`` (behind ``opencom seed``) gives a newcomer something real to try."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import opencom
from opencom_backend import APP_ROOT, Backend, Person

from runtime import ConvexError, knobs


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Password hashing is deliberately slow (~100 ms); these tests only need it to be correct.
    monkeypatch.setattr(knobs, "AUTH_SCRYPT_N", 1 << 10)


async def sign_in(backend: Backend, email: str, password: str) -> Person:
    args = {"provider": "password", "params": {"flow": "signIn", "email": email, "password": password}}
    tokens = (await backend.call("auth:signIn", args))["tokens"]
    identity = await backend.executor.auth.verify(tokens["token"])
    return Person(identity["subject"].partition("|")[0], email)


async def test_the_demo_admin_signs_in_to_a_workspace_with_conversations(backend: Backend):
    demo = await backend.internal("demo:seed")
    assert demo["email"] == "admin@demo.opencom.dev" and len(demo["password"]) >= knobs.AUTH_MIN_PASSWORD_LENGTH
    admin = await sign_in(backend, demo["email"], demo["password"])

    workspace = await backend.call("workspaces:getOrCreateDefault", as_=admin)
    assert (workspace["_id"], workspace["name"]) == (demo["workspaceId"], "Demo Workspace")
    conversations = await backend.call("conversations:list", {"workspaceId": workspace["_id"]}, as_=admin)
    assert len(conversations) == demo["conversations"] >= 4
    assert {row["status"] for row in conversations} == {"open", "closed"}
    [by_email] = [row for row in conversations if row.get("channel") == "email"]
    assert by_email["subject"] == "Question about API rate limits"
    for conversation in conversations:
        messages = await backend.call("messages:list", {"conversationId": conversation["_id"]}, as_=admin)
        assert any(message["senderType"] == "visitor" for message in messages)
        visitor = await backend.call("visitors:get", {"id": conversation["visitorId"]}, as_=admin)
        assert visitor["name"] and visitor["email"]

    config = await backend.call("emailChannel:getEmailConfig", {"workspaceId": workspace["_id"]}, as_=admin)
    assert config["forwardingAddress"] == demo["forwardingAddress"] and config["enabled"]
    await backend.call("emailChannel:sendEmailReply", {"conversationId": by_email["_id"], "content": "60"}, as_=admin)
    assert [row["to"] for row in (await backend.dump())["outbox"]] == [["linus@example.com"]]


async def test_seeding_twice_adds_nothing_and_only_changes_the_password(backend: Backend):
    first = await backend.internal("demo:seed")
    before = await backend.dump()
    second = await backend.internal("demo:seed", {"password": "a chosen password"})
    after = await backend.dump()

    assert {key: value for key, value in second.items() if key != "password"} == {
        key: value for key, value in first.items() if key != "password"
    }
    changed = {name for name in before if len(before[name]) != len(after[name])}
    assert changed == set()
    await sign_in(backend, first["email"], "a chosen password")
    stale = await backend.run(
        "auth:signIn",
        {"provider": "password", "params": {"flow": "signIn", "email": first["email"], "password": first["password"]}},
    )
    assert isinstance(stale.error, ConvexError)
    refused = await backend.t.call("demo:seed", {"password": "short"})
    assert isinstance(refused.error, ConvexError) and refused.error.data["code"] == "INVALID_INPUT"


async def test_seeding_is_for_the_deployment_admin_only(backend: Backend):
    result = await backend.run("demo:seed")
    assert result.error is not None and "Could not find public function" in str(result.error)
    assert (await backend.dump())["users"] == []


def test_opencom_seed_prints_the_credentials_and_the_outbox_is_a_table(tmp_path: Path):
    where = ("--app", APP_ROOT, "--data", tmp_path / "data")
    seeded = opencom("seed", *where, "--password", "demo-password-1")
    assert seeded.returncode == 0, seeded.stderr
    printed = json.loads(seeded.stdout)
    assert (printed["email"], printed["password"]) == ("admin@demo.opencom.dev", "demo-password-1")

    request = {"provider": "resend-otp", "params": {"email": printed["email"]}}
    assert opencom("run", "auth:signIn", json.dumps(request), *where).returncode == 0
    listed = opencom("data", "outbox", *where)
    assert listed.returncode == 0, listed.stderr
    assert "verification-code" in listed.stdout and "written-to-outbox" in listed.stdout
