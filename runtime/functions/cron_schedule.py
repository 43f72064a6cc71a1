"""When a cron job runs next: five-field cron expressions (UTC) and Convex's schedule shapes.

An expression is ``minute hour day-of-month month day-of-week`` with ``*``, numbers, ranges
``a-b``, steps ``*/n`` / ``a-b/n`` / ``a/n``, lists ``a,b``, month names ``jan``…``dec`` and day
names ``sun``…``sat`` (Sunday is 0, and 7 too). As in Vixie cron, when both day fields are
restricted a day matches if either does. Every schedule shape (hourly, daily, weekly, monthly)
is an expression; an interval is not (its ticks are ``interval`` apart from its first run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SEARCH_DAYS = 366 * 28  # every calendar pattern (leap years, weekdays) repeats within 28 years


class CronExpressionError(ValueError):
    """An expression that does not parse, or that never matches any time."""


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed expression: the allowed values of each field."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday
    any_day_of_month: bool
    any_day_of_week: bool

    def matches_day(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days_of_month
        in_week = (day.isoweekday() % 7) in self.days_of_week
        if self.any_day_of_month or self.any_day_of_week:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, after_ms: float) -> float | None:
        """The first matching minute strictly after ``after_ms``, in ms; None if none within 28 years."""
        start = datetime.fromtimestamp(after_ms / 1000.0, UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                earliest = start if day.date() == start.date() else day
                for hour in sorted(self.hours):
                    if hour < earliest.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if hour == earliest.hour and minute < earliest.minute:
                            continue
                        return day.replace(hour=hour, minute=minute).timestamp() * 1000.0
            day += timedelta(days=1)
        return None


def parse_cron(text: str) -> CronExpression:
    """Parse a five-field expression; raises ``CronExpressionError`` naming what is wrong."""
    fields = text.split()
    if len(fields) != 5:
        raise CronExpressionError(
            f"Invalid cron expression {text!r}: expected 5 fields (minute hour day month weekday)"
        )
    minutes = _field(fields[0], 0, 59, (), text)
    hours = _field(fields[1], 0, 23, (), text)
    days = _field(fields[2], 1, 31, (), text)
    months = _field(fields[3], 1, 12, _MONTHS, text, first_name=1)
    weekdays = _field(fields[4], 0, 7, _DAYS, text)
    weekdays = frozenset(0 if day == 7 else day for day in weekdays)
    expression = CronExpression(
        text, minutes, hours, days, months, weekdays, fields[2] == "*" or fields[2] == "?", fields[4] in ("*", "?")
    )
    if (
        expression.next_after(0.0) is None
        and expression.next_after(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000) is None
    ):
        raise CronExpressionError(f"The cron spec {text!r} will never match any time")
    return expression


def _field(raw: str, low: int, high: int, names: tuple[str, ...], text: str, first_name: int = 0) -> frozenset[int]:
    values: set[int] = set()
    for part in raw.lower().split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, names, first_name, text) if step_text else 1
        if step < 1:
            raise CronExpressionError(f"Invalid cron expression {text!r}: step must be at least 1 in {part!r}")
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _number(first, names, first_name, text), _number(last, names, first_name, text)
        else:
            start = _number(body, names, first_name, text)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise CronExpressionError(f"Invalid cron expression {text!r}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(raw: str, names: tuple[str, ...], first_name: int, text: str) -> int:
    if raw in names:
        return names.index(raw) + first_name
    if not raw.isdigit():
        raise CronExpressionError(f"Invalid cron expression {text!r}: {raw!r} is not a number")
    return int(raw)
