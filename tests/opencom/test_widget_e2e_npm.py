"""Opencom's widget end to end: the real server, and the widget's own calls (apps/widget, in its order
and with its argument shapes) made by the official npm ``convex`` client (tests/npm/opencom_widget_e2e.mjs).

Boot; every query the messenger home renders answers (none throws, which would unmount the real
widget); the help center lists, finds and shows a published article; a conversation starts with an attachment; the agent's live inbox shows it, the agent
downloads the file and replies; the visitor's live thread shows the reply; the visitor files a
ticket and sees it listed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.npm_support import scenario_steps


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the widget saw, by step name."""
    data_dir = tmp_path_factory.mktemp("widget-e2e") / "data"
    return scenario_steps("opencom_widget_e2e.mjs", data_dir, "widget-agent@test.opencom.dev", "Opencom!widget-e2e")


def test_the_widget_boots(seen: dict[str, Any]) -> None:
    shell = seen["shell"]
    assert shell["workspace"]["_id"] == seen["agent"]["workspaceId"]
    assert shell["origin"]["valid"] is True
    assert (shell["settings"]["primaryColor"], shell["settings"]["logo"]) == ("#792cd4", None)
    assert seen["booted"]["hasToken"] is True
    assert seen["geolocation"] == {
        "status": 200,
        "body": {"city": None, "region": None, "country": None, "countryCode": None},
    }


def test_every_home_query_answers_its_empty_or_default_value(seen: dict[str, Any]) -> None:
    home = seen["home"]
    for name in ("conversations", "commonIssues", "availableTours", "allTours", "checklists", "surveys", "tooltips",
                 "outbound", "tickets"):  # fmt: skip
        assert home[name] == [], name
    assert home["unread"] == 0
    assert home["automation"] == {
        "suggestArticlesEnabled": False,
        "showReplyTimeEnabled": False,
        "collectEmailEnabled": True,
        "askForRatingEnabled": False,
    }
    assert home["officeHours"] == {"isOpen": True, "offlineMessage": None, "expectedReplyTimeMinutes": None}
    assert home["replyTime"] is None
    assert home["ticketForm"] is None
    config = home["homeConfig"]
    assert (config["enabled"], config["defaultSpace"]) == (True, "home")
    assert [tab["id"] for tab in config["tabs"]] == ["home", "messages", "help", "tours", "tasks", "tickets"]


def test_the_help_center_lists_finds_and_shows_an_article(seen: dict[str, Any]) -> None:
    [listed] = seen["home"]["articles"]
    assert (listed["title"], listed["slug"]) == ("How refunds work", "how-refunds-work")
    [guides] = seen["home"]["collections"]
    assert guides["name"] == "Guides"
    assert [article["_id"] for article in seen["help_search"]] == [listed["_id"]]
    assert seen["help_article"]["content"] == "Refunds reach your card within 5 days."


def test_the_conversation_view_answers(seen: dict[str, Any]) -> None:
    view = seen["conversation_view"]
    assert [(m["senderType"], m["attachments"]) for m in view["messages"]] == [("bot", [])]
    assert view["ai"]["enabled"] is False
    assert view["aiResponses"] == []
    # The widget sends no session token with these two; until the connection itself proves the visitor
    # they answer null (rendered as "no profile yet"), and never another visitor's record.
    assert view["visitor"] is None or view["visitor"]["_id"] == seen["booted"]["visitorId"]
    assert view["conversation"] is None or view["conversation"]["_id"] == seen["inbox"][0]["_id"]


def test_an_attachment_travels_with_the_first_message(seen: dict[str, Any]) -> None:
    staged = seen["staged"]
    assert (staged["status"], staged["fileName"], staged["mimeType"], staged["size"]) == (
        "staged", "screenshot.png", "image/png", 9,
    )  # fmt: skip
    assert [row["unreadByAgent"] for row in seen["inbox"]] == [1]
    [message] = [m for m in seen["agent_thread"] if m["senderType"] == "visitor"]
    [attachment] = message["attachments"]
    assert message["attachmentIds"] == [staged["attachmentId"]]
    assert (attachment["_id"], attachment["fileName"], attachment["mimeType"]) == (
        staged["attachmentId"], "screenshot.png", "image/png",
    )  # fmt: skip
    assert seen["attachment_download"] == "PNG-BYTES"


def test_the_visitor_sees_the_agents_reply_live(seen: dict[str, Any]) -> None:
    thread = seen["visitor_thread"]
    assert [(m["senderType"], m["content"]) for m in thread][1:] == [
        ("visitor", "The checkout button is broken"),
        ("agent", "Fixed, try again!"),
    ]
    assert thread[2]["senderName"] == "E2E Agent"
    assert thread[2]["attachments"] == []


def test_the_visitor_files_a_ticket_and_sees_it_listed(seen: dict[str, Any]) -> None:
    [listed] = seen["ticket_list"]
    ticket = seen["ticket"]
    assert (listed["_id"], listed["subject"], listed["status"], listed["attachments"]) == (
        ticket["_id"], "Refund", "submitted", [],
    )  # fmt: skip
    assert (ticket["description"], ticket["priority"], ticket["comments"]) == ("Charged twice", "normal", [])
    assert ticket["visitorId"] == seen["booted"]["visitorId"]
