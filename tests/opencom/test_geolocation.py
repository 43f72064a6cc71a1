"""``GET /geolocation``: what the widget asks at boot; a configured GeoIP database answers it,
otherwise every field is null."""

import json
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet
from opencom_backend import Backend, Team

from runtime.functions.environment import set_env
from runtime.functions.http_actions import Request, run_http_action

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


LYON = {
    "city": {"names": {"en": "Lyon"}},
    "subdivisions": [{"names": {"en": "Auvergne-Rhône-Alpes"}}],
    "country": {"iso_code": "FR", "names": {"en": "France"}},
}


def _database(path: Path) -> Path:
    """A tiny City database: 91.198.174.0/24 is in Lyon, 133.0.0.0/24 only in a country."""
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["91.198.174.0/24"]), LYON)
    writer.insert_network(IPSet(["133.0.0.0/24"]), {"country": {"iso_code": "JP", "names": {"en": "Japan"}}})
    writer.to_db_file(str(path))
    return path


async def test_a_configured_geoip_database_locates_public_addresses(backend: Backend, tmp_path: Path):
    await set_env(backend.executor.database, "OPENCOM_GEOIP_DATABASE", str(_database(tmp_path / "city.mmdb")))
    located = await _get(backend, **{"x-forwarded-for": "91.198.174.9, 10.0.0.1"})
    assert located.body_json == {
        "city": "Lyon",
        "region": "Auvergne-Rhône-Alpes",
        "country": "France",
        "countryCode": "FR",
    }
    country_only = await _get(backend, **{"x-real-ip": "133.0.0.4"})
    assert country_only.body_json == {"city": None, "region": None, "country": "Japan", "countryCode": "JP"}
    for headers in ({"x-real-ip": "192.168.1.20"}, {"x-forwarded-for": "garbage"}, {"x-real-ip": "8.8.8.8"}, {}):
        assert (await _get(backend, **headers)).body_json == UNKNOWN, headers


async def test_a_missing_database_file_leaves_the_location_unknown(backend: Backend, tmp_path: Path):
    await set_env(backend.executor.database, "OPENCOM_GEOIP_DATABASE", str(tmp_path / "absent.mmdb"))
    assert (await _get(backend, **{"x-real-ip": "91.198.174.9"})).body_json == UNKNOWN
