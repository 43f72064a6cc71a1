"""Matching a visitor's page URL: tour routes (with ``*`` wildcards) and page-visit triggers.

Route rules (Opencom's ``evaluateRouteMatch``): a blank route matches everything; an absolute
route (``http(s)://...``) is compared with the page's origin + path + query; a route starting with
``/`` with path + query or the bare path; anything else with any of the three. ``*`` matches any
run of characters. Page-visit triggers compare the whole URL exactly, by substring (the default)
or with a regular expression (an invalid one matches nothing).
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RouteMatch:
    """Whether a route matched, and whether the route itself could not be parsed."""

    matches: bool
    invalid_route: bool = False


def _parts(url: str) -> tuple[str, str, str] | None:
    """(origin, path + query, path) of an absolute URL, as a browser's ``URL`` object spells them."""
    try:
        split = urlsplit(url.strip())
        port = split.port
    except ValueError:
        return None
    if not split.scheme or not split.hostname:
        return None
    scheme = split.scheme.lower()
    origin = f"{scheme}://{split.hostname.lower()}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        origin += f":{port}"
    path = split.path or "/"
    query = f"?{split.query}" if split.query else ""
    return origin, path + query, path


def _wildcard(pattern: str, value: str) -> bool:
    return re.fullmatch(".*".join(re.escape(piece) for piece in pattern.split("*")), value, re.DOTALL) is not None


def normalize_route(route: str | None) -> str | None:
    """A route trimmed, or None when blank."""
    trimmed = (route or "").strip()
    return trimmed or None


def match_route(route: str | None, current_url: str | None, *, when_url_missing: bool = True) -> RouteMatch:
    """Whether the page ``current_url`` is on ``route`` (see module doc)."""
    route = normalize_route(route)
    if route is None:
        return RouteMatch(True)
    if not current_url:
        return RouteMatch(when_url_missing)
    current = _parts(current_url)
    if current is None:
        return RouteMatch(False)
    origin, path_query, path = current
    absolute = origin + path_query
    if re.match(r"https?://", route, re.IGNORECASE):
        parsed = _parts(route)
        if parsed is None:
            return RouteMatch(False, invalid_route=True)
        route_absolute = parsed[0] + parsed[1]
        if "*" in route_absolute:
            return RouteMatch(_wildcard(route_absolute, absolute))
        return RouteMatch(route_absolute == absolute)
    if route.startswith("/"):
        if "*" in route:
            return RouteMatch(_wildcard(route, path_query))
        return RouteMatch(route in (path_query, path))
    if "*" in route:
        return RouteMatch(_wildcard(route, absolute) or _wildcard(route, path_query))
    return RouteMatch(route in (absolute, path_query, path))


def match_page_url(url: str, pattern: str, match_type: str | None) -> bool:
    """A page-visit trigger's test: ``exact``, ``contains`` (default) or ``regex``."""
    kind = match_type or "contains"
    if kind == "exact":
        return url == pattern
    if kind == "contains":
        return pattern in url
    try:
        return re.search(pattern, url) is not None
    except re.error:
        return False


def page_trigger_allows(trigger: dict | None, current_url: str | None) -> bool:
    """Whether an item's page-visit trigger (if it has one with a URL) lets it show on ``current_url``.

    Other trigger kinds (time on page, scroll depth, events) are evaluated by the client.
    """
    if not trigger or trigger.get("type") != "page_visit" or not trigger.get("pageUrl"):
        return True
    return bool(current_url) and match_page_url(current_url, trigger["pageUrl"], trigger.get("pageUrlMatch"))


def _at_least(wanted: float | None, seen: float | None) -> bool:
    return wanted is not None and seen is not None and seen >= wanted


def trigger_fires(trigger: dict | None, context: dict) -> bool:
    """Opencom's ``evaluateTrigger``: whether a trigger fires in the widget's reported page context.

    ``context`` holds what the widget saw: ``currentUrl``, ``timeOnPageSeconds``, ``scrollPercent``,
    ``firedEventName``/``firedEventProperties``, ``isExitIntent``. No trigger always fires.
    """
    if not trigger:
        return True
    kind = trigger.get("type")
    if kind == "immediate":
        return True
    if kind == "page_visit":
        url = context.get("currentUrl")
        return bool(trigger.get("pageUrl")) and bool(url) and match_page_url(url, trigger["pageUrl"], trigger.get("pageUrlMatch"))
    if kind == "time_on_page":
        return _at_least(trigger.get("delaySeconds"), context.get("timeOnPageSeconds"))
    if kind == "scroll_depth":
        return _at_least(trigger.get("scrollPercent"), context.get("scrollPercent"))
    if kind == "event":
        if not trigger.get("eventName") or trigger["eventName"] != context.get("firedEventName"):
            return False
        wanted, fired = trigger.get("eventProperties"), context.get("firedEventProperties")
        return not (wanted and fired is not None) or all(key in fired and fired[key] == value for key, value in wanted.items())
    if kind == "exit_intent":
        return context.get("isExitIntent") is True
    return False
