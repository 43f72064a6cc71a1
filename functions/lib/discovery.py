"""The backend discovery document (``/.well-known/opencom.json``) and who may fetch it cross-origin.

Clients (the dashboard, mobile apps, the widget installer) read it to learn which backend they
talk to. Browsers may read it only from the origins listed in ``OPENCOM_PUBLIC_CORS_ORIGINS``
(comma-separated, exact match) or, when that is unset, from localhost development origins.
"""

import re
from typing import Any

DISCOVERY_VERSION = "1.0"
DISCOVERY_FEATURES = ("chat", "knowledge-base")
DEFAULT_INSTANCE_NAME = "Opencom"
_LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1)(:\d+)?$")


def discovery_origin_allowed(origin: str, configured: str | None) -> bool:
    """Whether a browser at ``origin`` may read the discovery document."""
    if configured and configured.strip():
        return origin in {entry.strip() for entry in configured.split(",") if entry.strip()}
    return _LOCAL_ORIGIN.match(origin) is not None


def discovery_cors_headers(origin: str | None, configured: str | None, methods: str = "GET, OPTIONS") -> dict[str, str]:
    """CORS headers for a discovery response; the origin is echoed only when allowed (never ``*``)."""
    headers = {
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Content-Type",
        "Vary": "Origin",
    }
    if origin and discovery_origin_allowed(origin, configured):
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def discovery_response(
    method: str, origin: str | None, configured: str | None, metadata: dict[str, Any], convex_url: str
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    """``(status, headers, json body or None)`` of ``GET``/``OPTIONS /.well-known/opencom.json``.

    A request from a disallowed origin gets 403; a preflight gets an empty 200; a GET gets the
    instance metadata (from the ``discovery:getMetadata`` query) plus the URL clients connect to.
    """
    headers = discovery_cors_headers(origin, configured)
    if origin and not discovery_origin_allowed(origin, configured):
        return 403, headers, {"error": "Origin not allowed"}
    if method == "OPTIONS":
        return 200, headers, None
    return 200, headers, {**metadata, "convexUrl": convex_url}
