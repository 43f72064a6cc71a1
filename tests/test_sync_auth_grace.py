"""A query sent just before ``Authenticate`` is never answered as if its client were signed out.

On a page load the official client may open its socket, subscribe (``ModifyQuerySet``) and only
a few milliseconds later authenticate, once its auth library has read the token: a dashboard that
saw its ``currentUser`` query answer ``null`` in between would send the user to the sign-in page.
The first query set of a fresh connection is therefore held for ``knobs.SYNC_AUTH_GRACE_S`` while
no ``Authenticate`` has arrived (``runtime.server.sync_session``). These tests replay that order of
frames on a raw socket, and through the official npm client on the Opencom app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.npm_support import scenario_steps
from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, start_server
from tests.test_server_site import sign_up

APP = Path(__file__).parent / "apps" / "auth"
AGENT_EMAIL = "reload-agent@test.opencom.dev"
AGENT_PASSWORD = "Opencom!reload-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(APP, tmp_path_factory.mktemp("auth_grace") / "data")
    yield running
    running.stop()


async def test_a_query_sent_just_before_authenticate_is_answered_for_the_user(server: RunningServer) -> None:
    tokens = await sign_up(server, "reload@example.com")
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "me:whoami")))
        await asyncio.sleep(0.003)  # the auth library reading its stored token
        await connection.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": tokens["token"]})
        first = await connection.expect("Transition")
        assert first["startVersion"]["identity"] == 0 and first["endVersion"]["identity"] == 1
        [update] = first["modifications"]
        assert update["type"] == "QueryUpdated" and update["value"]["issuer"] == server.site_url


async def test_a_client_that_never_authenticates_is_answered_after_the_grace(server: RunningServer) -> None:
    async with SyncConnection.open(server) as connection:
        await connection.send(modify(0, add_query(0, "me:whoami")))
        first = await connection.expect("Transition")
        assert first["endVersion"]["identity"] == 0 and first["modifications"][0]["value"] is None
        # Only the first query set waits: later ones are answered as they come.
        await connection.send(modify(1, add_query(1, "me:user")))
        second = await connection.expect("Transition")
        assert [m["queryId"] for m in second["modifications"]] == [1]


def test_a_dashboard_reload_never_shows_the_signed_out_user(tmp_path: Path) -> None:
    seen: dict[str, Any] = scenario_steps(
        "dashboard_reload_e2e.mjs", tmp_path / "data", AGENT_EMAIL, AGENT_PASSWORD, timeout_s=180.0
    )
    rounds = [value for step, value in seen.items() if step.startswith("reload_")]
    assert len(rounds) == 5
    # Every value auth:currentUser took on each reloaded client: never null, the user at once.
    assert all(values == ["user"] for values in rounds), rounds
