"""Office hours: open or closed by the workspace's own wall clock, and the expected reply time."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from opencom_backend import Backend, Team


def _ms(text: str, zone: str) -> float:
    """Epoch ms of a local wall-clock time (``2026-03-02 10:30`` was a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000


async def test_without_office_hours_the_team_is_always_open(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    assert await backend.call("officeHours:isCurrentlyOpen", ws) == {
        "isOpen": True, "offlineMessage": None, "expectedReplyTimeMinutes": None,
    }  # fmt: skip
    assert await backend.call("officeHours:getExpectedReplyTime", ws) is None
    assert await backend.call("officeHours:get", ws) is None
    default = await backend.call("officeHours:getOrDefault", ws)
    assert default["timezone"] == "America/New_York"
    assert [(d["day"], d["enabled"]) for d in default["schedule"]][4:] == [
        ("friday", True), ("saturday", False), ("sunday", False),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("local_time", "is_open"),
    [
        ("2026-03-02 10:30", True),  # Monday morning in Tokyo
        ("2026-03-02 08:59", False),
        ("2026-03-02 17:00", False),  # the end is exclusive
        ("2026-03-07 12:00", False),  # Saturday
    ],
)
async def test_open_by_the_workspace_time_zone(backend: Backend, team: Team, local_time: str, is_open: bool):
    ws = {"workspaceId": team.workspace_id}
    await backend.call(
        "officeHours:upsert", {**ws, "timezone": "Asia/Tokyo", "offlineMessage": "Back soon"}, as_=team.admin
    )
    status = await backend.call("officeHours:isCurrentlyOpen", {**ws, "nowMs": _ms(local_time, "Asia/Tokyo")})
    assert status == {
        "isOpen": is_open,
        "offlineMessage": None if is_open else "Back soon",
        "expectedReplyTimeMinutes": 60 if is_open else None,
    }


async def test_overnight_all_day_and_unknown_zones(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id}
    night = [{"day": "monday", "enabled": True, "startTime": "22:00", "endTime": "06:00"},
             {"day": "tuesday", "enabled": True, "startTime": "00:00", "endTime": "00:00"}]  # fmt: skip
    await backend.call("officeHours:upsert", {**ws, "timezone": "Mars/Olympus", "schedule": night}, as_=team.admin)
    at = lambda text: backend.call("officeHours:isCurrentlyOpen", {**ws, "nowMs": _ms(text, "UTC")})
    assert (await at("2026-03-02 23:00"))["isOpen"] is True  # unknown zone: UTC
    assert (await at("2026-03-02 12:00"))["isOpen"] is False
    assert (await at("2026-03-03 15:00"))["isOpen"] is True  # equal bounds: all day
    assert (await at("2026-03-04 15:00"))["isOpen"] is False  # Wednesday is not in the schedule


@pytest.mark.parametrize(
    ("minutes", "label"),
    [
        (15.0, "15 minutes"),
        (60.0, "1 hour"),
        (90.0, "1 hour"),
        (180.0, "3 hours"),
        (1440.0, "1 day"),
        (4320.0, "3 days"),
    ],
)
async def test_expected_reply_time_in_words(backend: Backend, team: Team, minutes: float, label: str):
    ws = {"workspaceId": team.workspace_id}
    row = await backend.call("officeHours:upsert", {**ws, "expectedReplyTimeMinutes": minutes}, as_=team.admin)
    assert await backend.call("officeHours:getExpectedReplyTime", ws) == label
    assert await backend.call("officeHours:upsert", {**ws, "timezone": "UTC"}, as_=team.admin) == row


async def test_only_settings_admins_change_office_hours(backend: Backend, team: Team):
    ws = {"workspaceId": team.workspace_id, "timezone": "UTC"}
    await backend.refused("officeHours:upsert", ws, code="NOT_AUTHENTICATED")
    await backend.refused(
        "officeHours:upsert", ws, as_=await backend.add_member(team, "agent"), code="PERMISSION_DENIED"
    )
    assert (await backend.dump())["officeHours"] == []
