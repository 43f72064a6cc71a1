"""A support conversation end to end: the real server on the Opencom app, and both sides played by
the official npm ``convex`` client (tests/npm/opencom_e2e.mjs) over loopback.

A visitor boots a widget session, opens a conversation and writes; an agent who signed up through
``auth:signIn`` and handed its token to ``client.setAuth`` sees it arrive in its live inbox, reads
it and replies; the visitor's live thread and unread count follow. The script runs once per module
and reports what each side saw; each test below checks one part of the story.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.npm_support import scenario_steps

AGENT_EMAIL = "e2e-agent@test.opencom.dev"
AGENT_PASSWORD = "Opencom!e2e-secret"
SCENARIO_TIMEOUT_S = 180.0  # the script bounds each of its waits; this bounds the whole run
WELCOME = "Hi! How can we help you today?"


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the scenario reported, by step name (values decoded from Convex JSON)."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    return scenario_steps("opencom_e2e.mjs", data_dir, AGENT_EMAIL, AGENT_PASSWORD, timeout_s=SCENARIO_TIMEOUT_S)


def test_an_agent_signs_up_and_authenticates_the_client(seen: dict[str, Any]) -> None:
    assert seen["agent_signed_up"] == {"hasToken": True}
    assert seen["agent_authenticated"] is True
    me = seen["agent_current_user"]
    assert (me["user"]["email"], me["user"]["name"], me["user"]["role"]) == (AGENT_EMAIL, "E2E Agent", "admin")
    [workspace] = me["workspaces"]
    assert (workspace["_id"], workspace["name"], workspace["role"]) == (
        me["user"]["workspaceId"],
        "E2E Support",
        "admin",
    )
    assert seen["agent_inbox_before"] == []


def test_a_visitor_boots_a_session_and_opens_a_conversation(seen: dict[str, Any]) -> None:
    booted = seen["visitor_booted"]
    assert (booted["tokenPrefix"], booted["tokenLength"]) == ("wst_", 68)
    conversation = seen["visitor_conversation"]
    assert conversation["visitorId"] == booted["visitorId"]
    assert conversation["workspaceId"] == seen["agent_current_user"]["user"]["workspaceId"]
    assert conversation["status"] == "open"


def test_the_agents_live_inbox_shows_the_visitors_conversation(seen: dict[str, Any]) -> None:
    conversation = seen["visitor_conversation"]
    [row] = seen["agent_inbox_with_visitor"]
    assert (row["_id"], row["visitorId"], row["status"]) == (conversation["_id"], conversation["visitorId"], "open")
    assert row["unreadByAgent"] == 1
    assert row["lastMessageAt"] >= conversation["createdAt"]


def test_the_visitors_live_thread_shows_the_agents_reply(seen: dict[str, Any]) -> None:
    agent_id = seen["agent_current_user"]["user"]["_id"]
    thread = seen["visitor_thread"]
    assert [(m["senderType"], m["content"]) for m in thread] == [
        ("bot", WELCOME),
        ("visitor", "Hello, is anyone there?"),
        ("agent", "Hi! How can I help?"),
    ]
    assert thread[1]["senderId"] == seen["visitor_booted"]["visitorId"]
    assert (thread[2]["senderId"], thread[2]["senderName"]) == (agent_id, "E2E Agent")


def test_unread_counts_follow_messages_and_reads(seen: dict[str, Any]) -> None:
    # The welcome message does not count; the visitor's message counts for agents, the reply for the visitor.
    assert seen["visitor_unread_before"] == 0
    assert seen["agent_inbox_with_visitor"][0]["unreadByAgent"] == 1
    assert seen["agent_inbox_after_read"][0]["unreadByAgent"] == 0
    assert seen["visitor_unread_after_reply"] == 1
    assert seen["visitor_unread_after_read"] == 0
    [row] = seen["agent_inbox_after_reply"]
    assert (row["unreadByAgent"], row["unreadByVisitor"]) == (0, 0)


def test_the_inbox_needs_a_signed_in_agent(seen: dict[str, Any]) -> None:
    assert seen["anonymous_inbox"] == []
    assert seen["agent_signed_in_again"] is True
    assert [row["_id"] for row in seen["agent_inbox_signed_in_again"]] == [seen["visitor_conversation"]["_id"]]
