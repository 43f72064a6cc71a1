"""Office hours: when the team answers, in the workspace's time zone, and how fast it replies.

A workspace without office hours is always open. ``isCurrentlyOpen`` reads the wall clock of the
configured time zone (an unknown zone falls back to UTC); a day whose start equals its end is open
all day, and a start after the end spans midnight (22:00-06:00).
"""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime import mutation, query, v

from .lib.clock import now_ms
from .lib.identity import Doc, require_user
from .lib.permissions import require_permission

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_OFFLINE_MESSAGE = "We're currently offline. We'll get back to you as soon as possible."
DEFAULT_REPLY_MINUTES = 60.0
_SCHEDULE_ITEM = v.object(
    {
        "day": v.union(*(v.literal(day) for day in DAYS)),
        "enabled": v.boolean(),
        "startTime": v.string(),
        "endTime": v.string(),
    }
)
_WS = {"workspaceId": v.id("workspaces")}


def default_schedule() -> list[Doc]:
    """Monday to Friday, 09:00 to 17:00."""
    return [{"day": day, "enabled": day not in ("saturday", "sunday"), "startTime": "09:00", "endTime": "17:00"}
            for day in DAYS]  # fmt: skip


def _minutes(clock: str) -> int:
    """``"HH:MM"`` as minutes after midnight; unreadable parts count as 0 (Opencom's leniency)."""
    parts = (clock.split(":") + ["0"])[:2]
    values = [int(part) if part.strip().isdigit() else 0 for part in parts]
    return values[0] * 60 + values[1]


def wall_clock(instant_ms: float, timezone: str) -> tuple[str, int]:
    """(weekday name, minutes after midnight) at ``instant_ms`` in ``timezone`` (UTC if unknown)."""
    try:
        zone: Any = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    moment = datetime.fromtimestamp(instant_ms / 1000, tz=zone)
    return DAYS[moment.weekday()], moment.hour * 60 + moment.minute


def within(current: int, start: str, end: str) -> bool:
    """Whether ``current`` minutes fall in [start, end); equal bounds mean all day."""
    first, last = _minutes(start), _minutes(end)
    if first == last:
        return True
    if first > last:
        return current >= first or current < last
    return first <= current < last


def reply_time_label(minutes: float) -> str:
    """``"30 minutes"``, ``"1 hour"``, ``"3 hours"``, ``"2 days"``."""
    if minutes < 60:
        return f"{minutes:g} minutes"
    if minutes == 60:
        return "1 hour"
    if minutes < 1440:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours > 1 else ''}"
    days = int(minutes // 1440)
    return f"{days} day{'s' if days > 1 else ''}"


async def _office_hours(ctx: Any, workspace_id: str) -> Doc | None:
    return (
        await ctx.db.query("officeHours")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


@query(args=_WS)
async def get(ctx, args):
    """The stored office hours, or null."""
    return await _office_hours(ctx, args["workspaceId"])


@query(args=_WS)
async def getOrDefault(ctx, args):
    """The stored office hours, or the default week."""
    stored = await _office_hours(ctx, args["workspaceId"])
    if stored is not None:
        return stored
    return {
        "workspaceId": args["workspaceId"],
        "timezone": DEFAULT_TIMEZONE,
        "schedule": default_schedule(),
        "offlineMessage": DEFAULT_OFFLINE_MESSAGE,
        "expectedReplyTimeMinutes": DEFAULT_REPLY_MINUTES,
    }


@mutation(
    args={
        **_WS,
        "timezone": v.optional(v.string()),
        "schedule": v.optional(v.array(_SCHEDULE_ITEM)),
        "offlineMessage": v.optional(v.string()),
        "expectedReplyTimeMinutes": v.optional(v.number()),
    }
)
async def upsert(ctx, args):
    """Set the given parts (``settings.workspace``); a first save fills the rest with the defaults."""
    await require_user(ctx)
    await require_permission(ctx, args["workspaceId"], "settings.workspace")
    existing = await _office_hours(ctx, args["workspaceId"])
    fields = {name: args[name] for name in ("timezone", "schedule", "offlineMessage", "expectedReplyTimeMinutes")
              if name in args}  # fmt: skip
    now = now_ms()
    if existing is not None:
        await ctx.db.patch(existing["_id"], {**fields, "updatedAt": now})
        return existing["_id"]
    return await ctx.db.insert(
        "officeHours",
        {
            "workspaceId": args["workspaceId"],
            "timezone": DEFAULT_TIMEZONE,
            "schedule": default_schedule(),
            "expectedReplyTimeMinutes": DEFAULT_REPLY_MINUTES,
            **fields,
            "createdAt": now,
            "updatedAt": now,
        },
    )


@query(args={**_WS, "nowMs": v.optional(v.number())})
async def isCurrentlyOpen(ctx, args):
    """``{isOpen, offlineMessage, expectedReplyTimeMinutes}`` at ``nowMs`` (default: now)."""
    hours = await _office_hours(ctx, args["workspaceId"])
    if hours is None:
        return {"isOpen": True, "offlineMessage": None, "expectedReplyTimeMinutes": None}
    day, minute = wall_clock(args.get("nowMs", now_ms()), hours.get("timezone") or "UTC")
    today = next((item for item in hours["schedule"] if item["day"] == day), None)
    is_open = bool(today and today["enabled"] and within(minute, today["startTime"], today["endTime"]))
    return {
        "isOpen": is_open,
        "offlineMessage": None if is_open else hours.get("offlineMessage"),
        "expectedReplyTimeMinutes": hours.get("expectedReplyTimeMinutes") if is_open else None,
    }


@query(args=_WS)
async def getExpectedReplyTime(ctx, args):
    """The expected reply time in words, or null when none is configured."""
    hours = await _office_hours(ctx, args["workspaceId"])
    minutes = (hours or {}).get("expectedReplyTimeMinutes")
    return reply_time_label(minutes) if minutes else None
