"""Agent sign-in through ``auth:signIn``: a first sign-up gets its own workspace, tokens work everywhere."""

from typing import Any

import pytest
from opencom_backend import Backend, Person

from runtime import ConvexError, knobs


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Password hashing is deliberately slow (~100 ms); these tests only need it to be correct.
    monkeypatch.setattr(knobs, "AUTH_SCRYPT_N", 1 << 10)


def _password(flow: str, email: str, password: str = "Opencom!secret", **params: Any) -> dict[str, Any]:
    return {"provider": "password", "params": {"flow": flow, "email": email, "password": password, **params}}


async def _signed_in(backend: Backend, args: dict[str, Any]) -> tuple[Person, dict[str, Any]]:
    tokens = (await backend.call("auth:signIn", args))["tokens"]
    identity = await backend.executor.auth.verify(tokens["token"])
    user_id = identity["subject"].partition("|")[0]
    return Person(user_id, ""), identity


async def test_sign_up_creates_an_admin_of_a_new_workspace(backend: Backend):
    person, identity = await _signed_in(
        backend, _password("signUp", " Auth-1@Test.Opencom.dev ", name=" Auth Test Admin ", workspaceName="Acme")
    )
    workspace = await backend.call("workspaces:getOrCreateDefault", as_=person)
    assert workspace["name"] == "Acme"
    user = await backend.get(person.user_id)
    assert (user["email"], user["name"], user["role"]) == ("auth-1@test.opencom.dev", "Auth Test Admin", "admin")
    assert await backend.t.with_identity(identity).query("auth:isAuthenticated") is True
    assert await backend.call("conversations:list", {"workspaceId": workspace["_id"]}, as_=person) == []
    await backend.call("identityVerification:enable", {"workspaceId": workspace["_id"]}, as_=person)


async def test_signing_in_again_reaches_the_same_user(backend: Backend):
    first, _ = await _signed_in(backend, _password("signUp", "auth-2@test.opencom.dev"))
    again, _ = await _signed_in(backend, _password("signIn", "AUTH-2@test.opencom.dev"))
    assert first.user_id == again.user_id
    assert len((await backend.dump())["workspaces"]) == 1
    wrong = await backend.run("auth:signIn", _password("signIn", "auth-2@test.opencom.dev", "wrong-password"))
    assert isinstance(wrong.error, ConvexError)
