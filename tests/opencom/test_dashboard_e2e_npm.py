"""Opencom's agent dashboard end to end: the real server, and the dashboard's calls (apps/web, with its
argument shapes) made by the official npm ``convex`` client (tests/npm/opencom_dashboard_e2e.mjs).

Sign up through ``auth:signIn``; the shell's and the articles screen's queries answer; the inbox
pages through 1,000 conversations while visitors write, its live first page shows the latest
message; the agent replies, assigns, tags and closes; an invited teammate signs up and sees the same
inbox; reports count the conversations.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.npm_support import scenario_steps

TEAMMATE = "teammate@test.opencom.dev"


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the dashboard saw, by step name."""
    data_dir = tmp_path_factory.mktemp("dashboard-e2e") / "data"
    return scenario_steps(
        "opencom_dashboard_e2e.mjs", data_dir, "dashboard-agent@test.opencom.dev", "Opencom!dashboard-e2e", TEAMMATE,
        timeout_s=300.0,
    )


def test_discovery_tells_the_sign_in_page_the_policy(seen: dict[str, Any]) -> None:
    assert (seen["discovery"]["signupMode"], seen["discovery"]["authMethods"]) == ("invite-only", ["password", "otp"])


def test_the_shell_queries_all_answer(seen: dict[str, Any]) -> None:
    shell = seen["shell"]
    assert shell["onboarding"]["status"] == "not_started" and shell["onboarding"]["isWidgetVerified"] is False
    assert shell["signals"]["integrations"] == []
    assert shell["sidebar"] == [] and shell["ai"]["enabled"] is False
    assert shell["workspace"]["_id"] == seen["agent"]["workspaceId"]
    assert [member["userId"] for member in shell["members"]] == [seen["agent"]["userId"]]


def test_the_articles_screen_answers_with_an_empty_import_history(seen: dict[str, Any]) -> None:
    screen = seen["articles_screen"]
    assert (screen["articles"], screen["collections"]) == ([], [])
    assert (screen["sources"], screen["history"]) == ([], [])


def test_the_inbox_pages_through_every_conversation_and_stays_live(seen: dict[str, Any]) -> None:
    assert seen["opened"] == 1000
    assert seen["paged"]["all"] is True and seen["paged"]["distinct"] == 1000
    assert seen["live_top"]["unread"] >= 1 and seen["live_top"]["visitor"] is not None


def test_the_agent_replies_assigns_tags_and_closes(seen: dict[str, Any]) -> None:
    handled = seen["handled"]
    assert handled["lastMessage"] == "On it!" and handled["tags"] == ["billing"]
    assert handled["closed"] == [[handled["closed"][0][0], seen["agent"]["userId"]]]


def test_an_invited_teammate_sees_the_same_inbox(seen: dict[str, Any]) -> None:
    assert seen["invited"] == {"status": "invited"}
    assert seen["teammate"]["same"] is True and seen["teammate"]["count"] == 50
    assert sorted(seen["teammate"]["members"]) == sorted(
        [["dashboard-agent@test.opencom.dev", "admin"], [TEAMMATE, "agent"]]
    )


def test_reports_reflect_the_conversations(seen: dict[str, Any]) -> None:
    reports = seen["reports"]
    assert reports["volume"]["total"] == 1000 and reports["volume"]["byStatus"]["closed"] == 1
    assert reports["summary"]["totalConversations"] == 1000 and reports["summary"]["closedConversations"] == 1
    assert reports["summary"]["avgResponseTimeMs"] > 0 and reports["summary"]["avgResolutionTimeMs"] > 0
    [mine] = reports["agents"]
    assert (mine["agentId"], mine["conversationsHandled"]) == (seen["agent"]["userId"], 1)
    assert reports["workload"]["unassigned"] == 999
