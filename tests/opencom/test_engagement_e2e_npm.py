"""Targeted engagement end to end: the real server on the Opencom app, the agent and two visitors
played by the official npm ``convex`` client (tests/npm/engagement_e2e.mjs) over loopback.

An agent creates a segment, an active tour for a page and a survey targeted at the segment; a
matching visitor's live ``tourProgress:getAvailableTours`` and ``surveys:getActiveSurveys`` show
them and another visitor's do not; the first visitor completes the tour and answers the survey
while the agent's live analytics follow; the other visitor sees the tour once it becomes a match.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.npm_support import scenario_steps

AGENT_EMAIL = "e2e-engagement@test.opencom.dev"
AGENT_PASSWORD = "Opencom!e2e-secret"
SCENARIO_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the scenario reported, by step name (values decoded from Convex JSON)."""
    data_dir = tmp_path_factory.mktemp("engagement") / "data"
    return scenario_steps("engagement_e2e.mjs", data_dir, AGENT_EMAIL, AGENT_PASSWORD, timeout_s=SCENARIO_TIMEOUT_S)


def test_the_segment_is_used_by_the_tour_and_the_survey(seen: dict[str, Any]) -> None:
    created = seen["agent_created"]
    assert {(use["type"], use["id"]) for use in seen["segment_usage"]} == {
        ("tour", created["tourId"]),
        ("survey", created["surveyId"]),
    }


def test_only_the_matching_visitor_sees_the_tour_and_the_survey(seen: dict[str, Any]) -> None:
    created = seen["agent_created"]
    [tour] = seen["pro_tours"]
    assert tour["tour"]["_id"] == created["tourId"]
    assert [step["content"] for step in tour["steps"]] == ["Welcome!", "Here is your dashboard"]
    assert [survey["_id"] for survey in seen["pro_surveys"]] == [created["surveyId"]]
    assert seen["free_tours"] == [] and seen["free_surveys"] == []


def test_the_visitor_completes_the_tour(seen: dict[str, Any]) -> None:
    first, last = seen["pro_advances"]
    assert (first["advanced"], first["status"], first["nextStep"]) == (True, "in_progress", 1)
    assert (last["advanced"], last["status"]) == (True, "completed")
    assert seen["pro_tours_after"] == []
    assert [row["tourStatus"] for row in seen["pro_tour_list"]] == ["completed"]


def test_the_agents_live_analytics_follow_the_answer(seen: dict[str, Any]) -> None:
    assert seen["analytics_before"]["totalResponses"] == 0
    assert seen["analytics_shown"]["impressions"]["shown"] == 1
    answered = seen["analytics_answered"]
    assert answered["questionAnalytics"]["nps"]["npsScore"] == 100
    assert answered["responseRate"] == 100
    assert seen["pro_surveys_after"] == []
    assert seen["pro_visitor"]["customAttributes"]["npsScore"] == 10


def test_a_visitor_who_starts_matching_sees_the_tour_live(seen: dict[str, Any]) -> None:
    [tour] = seen["free_tours_after_upgrade"]
    assert tour["tour"]["_id"] == seen["agent_created"]["tourId"]
