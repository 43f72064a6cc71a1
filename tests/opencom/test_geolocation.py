"""``GET /geolocation``: what the widget asks at boot; no GeoIP data here, so every field is null."""

import json

from opencom_backend import Backend, Team

from runtime.http_actions import Request, run_http_action

UNKNOWN = {"city": None, "region": None, "country": None, "countryCode": None}


class _Answer:
    def __init__(self, outcome) -> None:
        self.status, self.headers = outcome.status, outcome.headers
        self.body_json = json.loads(outcome.body) if outcome.body else None


async def _get(backend: Backend, method: str = "GET", **headers: str) -> _Answer:
    request = Request(method, "http://127.0.0.1/geolocation", headers, b"")
    return _Answer(await run_http_action(backend.executor, request, "/geolocation"))


async def test_the_location_is_unknown_and_cors_follows_the_workspace_origins(backend: Backend, team: Team):
    plain = await _get(backend)
    assert (plain.status, plain.body_json) == (200, UNKNOWN)
    await backend.call(
        "workspaces:updateAllowedOrigins",
        {"workspaceId": team.workspace_id, "allowedOrigins": ["https://shop.example.com"]},
        as_=team.admin,
    )
    allowed = await _get(backend, origin="https://shop.example.com", **{"x-workspace-id": team.workspace_id})
    assert (allowed.status, allowed.body_json) == (200, UNKNOWN)
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    preflight = await _get(
        backend, "OPTIONS", origin="https://shop.example.com", **{"x-workspace-id": team.workspace_id}
    )
    assert (preflight.status, preflight.headers["Access-Control-Allow-Methods"]) == (200, "GET, OPTIONS")
    refused = await _get(backend, origin="https://evil.com", **{"x-workspace-id": team.workspace_id})
    assert (refused.status, refused.body_json) == (403, {"error": "Origin not in allowed list"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    garbage = await _get(backend, origin="https://shop.example.com", **{"x-workspace-id": "not-an-id"})
    assert (garbage.status, garbage.body_json) == (403, {"error": "Invalid workspace ID"})
