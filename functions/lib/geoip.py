"""Where a widget visitor is, from its IP address and a GeoIP database in MaxMind's format.

The deployment names the database file (GeoLite2 City or any MaxMind-format City database) in the
``OPENCOM_GEOIP_DATABASE`` environment variable. Without one, or for an address the database does
not know (private, loopback, malformed), every field is null: the location is unknown, never guessed.
The client address is the first ``X-Forwarded-For`` entry, else ``X-Real-IP`` (set by the proxy in
front of the server), as in Opencom.
"""

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import maxminddb

GEOIP_DATABASE_ENV = "OPENCOM_GEOIP_DATABASE"
UNKNOWN_LOCATION: dict[str, str | None] = {"city": None, "region": None, "country": None, "countryCode": None}


def client_ip(headers: Mapping[str, str]) -> str | None:
    """The visitor's address as the proxy reports it (headers lower-cased), or None."""
    forwarded = (headers.get("x-forwarded-for") or "").split(",")[0].strip()
    return forwarded or (headers.get("x-real-ip") or "").strip() or None


@lru_cache(maxsize=4)
def _reader(path: str, modified_ns: int) -> Any:
    """One open reader per database file version (a replaced file is reopened)."""
    return maxminddb.open_database(path)


def _english(record: Mapping[str, Any] | None) -> str | None:
    return ((record or {}).get("names") or {}).get("en")


def locate(database_path: str | None, ip: str | None) -> dict[str, str | None]:
    """``{city, region, country, countryCode}`` of a public address; all null when unknown."""
    if not database_path or not ip:
        return dict(UNKNOWN_LOCATION)
    try:
        if not ipaddress.ip_address(ip).is_global:
            return dict(UNKNOWN_LOCATION)
        record = _reader(database_path, os.stat(database_path).st_mtime_ns).get(ip)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError):
        return dict(UNKNOWN_LOCATION)
    if not isinstance(record, Mapping):
        return dict(UNKNOWN_LOCATION)
    country = record.get("country") or {}
    subdivisions = record.get("subdivisions") or [None]
    return {
        "city": _english(record.get("city")),
        "region": _english(subdivisions[0]),
        "country": _english(country),
        "countryCode": country.get("iso_code"),
    }
