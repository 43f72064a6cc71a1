"""The discovery document behind ``/.well-known/opencom.json``: metadata query, CORS rules, the route."""

import json

import pytest
from opencom_backend import Backend, Team


async def test_metadata_names_the_instance_after_its_oldest_workspace(backend: Backend):
    assert await backend.call("discovery:getMetadata") == {
        "version": "1.0",
        "name": "Opencom",
        "features": ["chat", "knowledge-base"],
        "signupMode": "invite-only",
        "authMethods": ["password", "otp"],
    }
    team = await backend.seed_team("First Co")
    await backend.seed_team("Second Co")
    anonymous = await backend.call("discovery:getMetadata")
    assert anonymous["name"] == "First Co"
    assert (anonymous["signupMode"], anonymous["authMethods"]) == ("invite-only", ["password", "otp"])
    await backend.call(
        "workspaces:updateSignupSettings",
        {"workspaceId": team.workspace_id, "signupMode": "domain-allowlist", "allowedDomains": [" Acme.com "],
         "authMethods": ["otp"]},
        as_=team.admin,
    )
    updated = await backend.call("discovery:getMetadata")
    assert (updated["signupMode"], updated["authMethods"]) == ("domain-allowlist", ["otp"])
    assert (await backend.get(team.workspace_id))["allowedDomains"] == ["acme.com"]


@pytest.mark.parametrize(
    ("origin", "configured", "allowed"),
    [
        ("http://localhost:5173", None, True),
        ("https://127.0.0.1", None, True),
        ("https://localhost.evil.com", None, False),
        ("https://app.example.com", None, False),
        ("https://app.example.com", "https://app.example.com, https://admin.example.com", True),
        ("http://localhost:5173", "https://app.example.com", False),
        ("https://app.example.com/", "https://app.example.com", False),
    ],
)
async def test_cross_origin_allowlist(backend: Backend, origin: str, configured: str | None, allowed: bool):
    assert backend.lib("discovery").discovery_origin_allowed(origin, configured) is allowed


async def test_responses(backend: Backend, team: Team):
    discovery = backend.lib("discovery")
    metadata = await backend.call("discovery:getMetadata")
    status, headers, body = discovery.discovery_response(
        "GET", "http://localhost:3000", None, metadata, "http://127.0.0.1:3210"
    )
    assert (status, body["convexUrl"], headers["Access-Control-Allow-Origin"]) == (
        200,
        "http://127.0.0.1:3210",
        "http://localhost:3000",
    )
    status, headers, body = discovery.discovery_response("GET", "https://evil.com", None, metadata, "")
    assert (status, body) == (403, {"error": "Origin not allowed"}) and "Access-Control-Allow-Origin" not in headers
    assert discovery.discovery_response("OPTIONS", None, None, metadata, "")[::2] == (200, None)
    assert discovery.discovery_response("GET", None, None, metadata, "u")[2]["name"] == metadata["name"]


async def _get(backend: Backend, method: str = "GET", **headers: str):
    """One request to the discovery route, through the app's router."""
    return await backend.t.fetch("/.well-known/opencom.json", method=method, headers=headers)


async def test_discovery_route(backend: Backend, team: Team):
    served = await _get(backend, origin="http://localhost:5173")
    document = json.loads(served.body)
    assert served.status == 200 and served.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert document["name"] == (await backend.get(team.workspace_id))["name"] and document["version"] == "1.0"
    assert document["convexUrl"] == backend.executor.cloud_url
    assert (await _get(backend, origin="https://evil.com")).status == 403
    preflight = await _get(backend, "OPTIONS", origin="http://localhost:5173")
    assert (preflight.status, preflight.body) == (200, b"")

    await backend.t.set_env("OPENCOM_PUBLIC_CORS_ORIGINS", "https://app.example.com")
    assert (await _get(backend, origin="https://app.example.com")).status == 200
    assert (await _get(backend, origin="http://localhost:5173")).status == 403
