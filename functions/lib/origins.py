"""Widget origin allowlists: which web origins may boot and identify visitors of a workspace.

An entry is either ``*.example.com`` (the domain or any sub-domain, any scheme and port) or an
http(s) URL whose normalised origin must equal the request's. An empty allowlist allows every
origin (development mode).
"""

from urllib.parse import urlsplit

from .errors import NOT_AUTHORIZED, fail
from .identity import Doc

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_origin(url: str) -> str | None:
    """``scheme://host[:port]`` (host lower-cased, default port dropped), or None if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower()
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def matches_allowed_origin(origin: str, entry: str) -> bool:
    """Whether a request ``origin`` matches one allowlist ``entry``."""
    request = normalized_origin(origin)
    entry = entry.strip()
    if request is None or not entry:
        return False
    if entry.startswith("*."):
        domain = entry[2:].lower()
        if not domain or "/" in domain or ":" in domain:
            return False
        host = urlsplit(request).hostname or ""
        return host == domain or host.endswith("." + domain)
    return normalized_origin(entry) == request


def origin_verdict(workspace: Doc, origin: str | None) -> tuple[bool, str]:
    """``(valid, reason)`` for a visitor-facing request from ``origin`` to ``workspace``."""
    allowed = workspace.get("allowedOrigins") or []
    if not allowed:
        return True, "No origin restrictions configured"
    if not origin:
        return False, "Origin header is required when allowed origins are configured"
    if normalized_origin(origin) is None:
        return False, "Origin must be a valid http(s) origin"
    if any(matches_allowed_origin(origin, entry) for entry in allowed):
        return True, "Origin allowed"
    return False, "Origin not in allowed list"


def require_valid_origin(workspace: Doc, origin: str | None) -> None:
    """Refuse a visitor-facing call from an origin the workspace does not allow."""
    valid, reason = origin_verdict(workspace, origin)
    if not valid:
        fail(NOT_AUTHORIZED, f"Origin validation failed: {reason}")
