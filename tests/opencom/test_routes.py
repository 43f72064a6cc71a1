"""Page matching for tours (routes with wildcards) and delivery triggers (page, time, scroll, event, exit)."""

from __future__ import annotations

import pytest
from opencom_backend import Backend

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("route", "url", "matches"),
    [
        (None, "https://x.test/a", True),
        ("  ", "https://x.test/a", True),
        ("/pricing", "https://x.test/pricing?plan=pro", True),
        ("/pricing", "https://x.test/pricing/team", False),
        ("/app/*", "https://x.test/app/settings?tab=1", True),
        ("/app/*", "https://x.test/apple", False),
        ("https://x.test/app", "https://x.test:443/app", True),
        ("https://x.test/app", "https://other.test/app", False),
        ("https://*.test/app/*", "https://x.test/app/home", True),
        ("pricing", "https://x.test/pricing", False),
        ("/pricing", None, True),
        ("/pricing", "not a url", False),
    ],
)
async def test_routes(backend: Backend, route, url, matches):
    assert backend.lib("routes").match_route(route, url).matches is matches


async def test_an_unparsable_absolute_route_is_reported(backend: Backend):
    result = backend.lib("routes").match_route("https://", "https://x.test/")
    assert (result.matches, result.invalid_route) == (False, True)


@pytest.mark.parametrize(
    ("trigger", "context", "fires"),
    [
        (None, {}, True),
        ({"type": "immediate"}, {}, True),
        ({"type": "page_visit", "pageUrl": "/docs"}, {"currentUrl": "https://x.test/docs/a"}, True),
        ({"type": "page_visit", "pageUrl": "https://x.test/docs", "pageUrlMatch": "exact"}, {"currentUrl": "https://x.test/docs/a"}, False),
        ({"type": "page_visit", "pageUrl": r"/docs/\d+$", "pageUrlMatch": "regex"}, {"currentUrl": "https://x.test/docs/42"}, True),
        ({"type": "page_visit", "pageUrl": "([", "pageUrlMatch": "regex"}, {"currentUrl": "https://x.test/(["}, False),
        ({"type": "page_visit", "pageUrl": "/docs"}, {}, False),
        ({"type": "time_on_page", "delaySeconds": 10.0}, {"timeOnPageSeconds": 12.0}, True),
        ({"type": "time_on_page", "delaySeconds": 10.0}, {"timeOnPageSeconds": 3.0}, False),
        ({"type": "scroll_depth", "scrollPercent": 50.0}, {"scrollPercent": 75.0}, True),
        ({"type": "event", "eventName": "buy", "eventProperties": {"plan": "pro"}}, {"firedEventName": "buy", "firedEventProperties": {"plan": "pro"}}, True),
        ({"type": "event", "eventName": "buy", "eventProperties": {"plan": "pro"}}, {"firedEventName": "buy", "firedEventProperties": {"plan": "free"}}, False),
        ({"type": "event", "eventName": "buy"}, {"firedEventName": "sell"}, False),
        ({"type": "exit_intent"}, {"isExitIntent": True}, True),
        ({"type": "exit_intent"}, {}, False),
    ],
)
async def test_triggers(backend: Backend, trigger, context, fires):
    assert backend.lib("routes").trigger_fires(trigger, context) is fires
