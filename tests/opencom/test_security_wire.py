"""The takeover fixes seen from outside: the real server on the Opencom app, driven by the official npm
client (tests/npm/driver.mjs, one WebSocket per named client) and by plain HTTP.

- Opencom's widget calls ``conversations:get {id, visitorId}`` and ``visitors:getBySession
  {sessionId}`` without its session token, on the WebSocket it booted on: served there, and the
  same calls from another connection or over HTTP get nothing.
- A boot naming someone else's visitor id or email, and an identify with their email, give the
  caller nothing of theirs.
- A password sign-up on an email that has a user fails with one error, whatever that user signs
  in with; an unknown account and a wrong password fail alike.
- A signed-out access token stops working at once, over HTTP and in ``Authenticate``.
- Emailed codes are limited per address and per client.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.driver_process import Driver, DriverError
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import REPO, RunningServer, SyncConnection, start_server

PASSWORD = "Opencom!wire-secret"
ORIGIN = "https://shop.example"


@pytest.fixture
def server(tmp_path) -> Iterator[RunningServer]:
    # A cheap password hash: these tests sign up several times.
    running = start_server(REPO, tmp_path / "data", env={"OPENCOM_AUTH_SCRYPT_N": "1024"})
    yield running
    running.stop()


@pytest.fixture
async def driver(server: RunningServer) -> AsyncIterator[Driver]:
    started = await Driver.start([node_with_convex(), "driver.mjs", server.url], cwd=str(NPM_DIR))
    yield started
    await started.close()


async def http_call(
    server: RunningServer, kind: str, path: str, args: dict[str, Any], token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """One call of the HTTP API: (status, body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/{kind}", json={"path": path, "args": args}, headers=headers) as answer:
            return answer.status, await answer.json()


async def value(server: RunningServer, kind: str, path: str, args: dict[str, Any], token: str | None = None) -> Any:
    status, body = await http_call(server, kind, path, args, token)
    assert status == 200 and body["status"] == "success", body
    return body["value"]


async def sign_up(server: RunningServer, email: str) -> tuple[str, str]:
    """(access token, workspace id) of a new agent."""
    params = {"flow": "signUp", "email": email, "password": PASSWORD, "name": "Agent"}
    tokens = (await value(server, "action", "auth:signIn", {"provider": "password", "params": params}))["tokens"]
    me = await value(server, "query", "auth:currentUser", {}, tokens["token"])
    return tokens["token"], me["user"]["workspaceId"]


async def refusal(driver: Driver, op: str, client: str, path: str, args: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(DriverError) as raised:
        await driver.call(op, client=client, path=path, args=args)
    assert raised.value.name == "ConvexError", raised.value
    return raised.value.data


def widget_boot(workspace_id: str, session_id: str, **fields: Any) -> dict[str, Any]:
    """``widgetSessions:boot`` as Opencom's widget sends it (undefined fields are simply absent)."""
    return {
        "workspaceId": workspace_id,
        "sessionId": session_id,
        "device": {"browser": "Firefox", "os": "Linux", "deviceType": "desktop"},
        "currentUrl": f"{ORIGIN}/pricing",
        "customAttributes": {},
        "origin": ORIGIN,
        "clientType": "web_widget",
        **fields,
    }


async def widget_with_conversation(
    driver: Driver, client: str, workspace_id: str, session_id: str, **fields: Any
) -> tuple[str, str, str]:
    """(visitor id, session token, conversation id) of a widget that booted on ``client`` and opened a conversation."""
    booted = await driver.call(
        "mutation", client=client, path="widgetSessions:boot", args=widget_boot(workspace_id, session_id, **fields)
    )
    token = booted["sessionToken"]
    created = await driver.call(
        "mutation",
        client=client,
        path="conversations:createForVisitor",
        args={"workspaceId": workspace_id, "sessionToken": token},
    )
    return booted["visitor"]["_id"], token, created["_id"]


async def test_the_widget_reads_without_its_token_on_its_own_connection_only(server: RunningServer, driver: Driver):
    _, workspace_id = await sign_up(server, "owner@wire.test")
    session_id = "session_" + "ab" * 24  # the widget's shape: 24 random bytes in hex
    visitor_id, token, conversation_id = await widget_with_conversation(driver, "widget", workspace_id, session_id)
    get_args = {"id": conversation_id, "visitorId": visitor_id}
    by_session = {"sessionId": session_id}

    # The widget's own connection: its exact call shapes are served.
    assert (await driver.call("query", client="widget", path="conversations:get", args=get_args))["_id"] == (
        conversation_id
    )
    assert (await driver.call("query", client="widget", path="visitors:getBySession", args=by_session))["_id"] == (
        visitor_id
    )
    identified = await driver.call(
        "mutation",
        client="widget",
        path="visitors:identify",
        args={"visitorId": visitor_id, "email": "ann@shop.example", "origin": ORIGIN},
    )
    assert (identified["_id"], identified["email"]) == (visitor_id, "ann@shop.example")
    await driver.call("subscribe", client="widget", sub="thread", path="conversations:get", args=get_args)
    assert (await driver.next_until("thread", lambda seen: seen is not None))["_id"] == conversation_id

    # A second connection with the same bare ids gets nothing, and can change nothing.
    assert await driver.call("query", client="mallory", path="conversations:get", args=get_args) is None
    assert await driver.call("query", client="mallory", path="visitors:getBySession", args=by_session) is None
    data = await refusal(driver, "mutation", "mallory", "visitors:identify", {"visitorId": visitor_id, "name": "M"})
    assert data == {"code": "NOT_AUTHENTICATED", "message": "Session token required"}
    # Booting a visitor of its own proves nothing about the widget's.
    await driver.call("mutation", client="mallory", path="widgetSessions:boot", args=widget_boot(workspace_id, "m"))
    assert await driver.call("query", client="mallory", path="conversations:get", args=get_args) is None
    # Over HTTP there is no connection: nothing is proven.
    assert await value(server, "query", "conversations:get", get_args) is None
    assert await value(server, "query", "visitors:getBySession", by_session) is None

    # Revoking the session ends what the connection proved, live.
    await driver.call("mutation", client="widget", path="widgetSessions:revoke", args={"sessionToken": token})
    assert await driver.next_until("thread", lambda seen: seen is None) is None
    assert await driver.call("query", client="widget", path="visitors:getBySession", args=by_session) is None


async def test_foreign_ids_and_emails_hand_over_nothing(server: RunningServer, driver: Driver):
    agent_token, workspace_id = await sign_up(server, "owner2@wire.test")
    victim_id, victim_token, conversation_id = await widget_with_conversation(
        driver, "victim", workspace_id, "victim-browser", email="vip@shop.example"
    )
    before = await value(server, "query", "visitors:get", {"id": victim_id}, agent_token)

    by_id = await driver.call(
        "mutation", client="mallory", path="widgetSessions:boot",
        args=widget_boot(workspace_id, "mallory-1", existingVisitorId=victim_id),
    )  # fmt: skip
    by_email = await driver.call(
        "mutation", client="mallory", path="widgetSessions:boot",
        args=widget_boot(workspace_id, "mallory-2", email="vip@shop.example"),
    )  # fmt: skip
    for booted in (by_id, by_email):
        assert booted["visitor"]["_id"] != victim_id and victim_token not in str(booted)
        listed = await driver.call(
            "query",
            client="mallory",
            path="conversations:listByVisitor",
            args={"workspaceId": workspace_id, "sessionToken": booted["sessionToken"]},
        )
        assert listed == []
    merged = await driver.call(
        "mutation",
        client="mallory",
        path="visitors:identify",
        args={"visitorId": by_id["visitor"]["_id"], "sessionToken": by_id["sessionToken"], "email": "vip@shop.example"},
    )
    assert merged["_id"] == by_id["visitor"]["_id"]  # the email is recorded on the caller's own visitor
    assert await value(server, "query", "visitors:get", {"id": victim_id}, agent_token) == before
    thread = await driver.call(
        "query",
        client="victim",
        path="conversations:listByVisitor",
        args={"workspaceId": workspace_id, "sessionToken": victim_token},
    )
    assert [row["_id"] for row in thread] == [conversation_id]


async def test_sign_up_on_a_taken_email_fails_alike_and_sign_in_errors_match(server: RunningServer, driver: Driver):
    await sign_up(server, "password@wire.test")
    started = await driver.call(
        "action", client="a", path="auth:signIn", args={"provider": "resend-otp", "params": {"email": "code@wire.test"}}
    )
    assert started == {"started": True}
    refusals = []
    for email in ("password@wire.test", "code@wire.test", " Code@Wire.test "):
        params = {"flow": "signUp", "email": email, "password": "a new password"}
        refusals.append(await refusal(driver, "action", "a", "auth:signIn", {"provider": "password", "params": params}))
    assert refusals == [{"code": "AccountAlreadyExists", "message": "An account with this email already exists"}] * 3

    wrong = {"flow": "signIn", "email": "password@wire.test", "password": "not the password"}
    unknown = {"flow": "signIn", "email": "nobody@wire.test", "password": "not the password"}
    code_only = {"flow": "signIn", "email": "code@wire.test", "password": "not the password"}
    answers = [
        await refusal(driver, "action", "a", "auth:signIn", {"provider": "password", "params": params})
        for params in (wrong, unknown, code_only)
    ]
    assert answers == [{"code": "InvalidSecret", "message": "Invalid email or password"}] * 3


async def test_a_signed_out_token_stops_working_at_once(server: RunningServer):
    token, _ = await sign_up(server, "leaving@wire.test")
    assert await value(server, "query", "auth:isAuthenticated", {}, token) is True
    assert await value(server, "action", "auth:signOut", {}, token) is None
    status, body = await http_call(server, "query", "auth:isAuthenticated", {}, token)
    assert (status, body["code"]) == (401, "InvalidAuthHeader")
    assert "session has ended" in body["message"]
    async with SyncConnection.open(server) as connection:
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token})
        refused = await connection.expect("AuthError")
        assert "session has ended" in refused["error"]


async def test_emailed_codes_are_limited_per_address_and_per_client(server: RunningServer):
    def request(email: str) -> dict[str, Any]:
        return {"provider": "resend-otp", "params": {"email": email}}

    for _ in range(5):
        assert await value(server, "action", "auth:signIn", request("flood@wire.test")) == {"started": True}
    _, body = await http_call(server, "action", "auth:signIn", request("flood@wire.test"))
    assert body["status"] == "error" and body["errorData"]["code"] == "TooManyCodeRequests"
    message = body["errorData"]["message"]
    assert re.fullmatch(r"Too many verification codes requested; try again in \d+ seconds", message)
    # One client (this test's loopback address) asking for many addresses: 20 per hour in all.
    for index in range(15):
        assert await value(server, "action", "auth:signIn", request(f"spray-{index}@wire.test")) == {"started": True}
    _, body = await http_call(server, "action", "auth:signIn", request("one-more@wire.test"))
    assert body["status"] == "error" and body["errorData"]["code"] == "TooManyCodeRequests"
