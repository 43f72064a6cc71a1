"""Cron jobs: recurring mutations and actions, declared in an app's ``functions/crons.py``.

    from runtime import cron_jobs

    crons = cron_jobs()
    crons.interval("clear presence", {"seconds": 30}, "presence:clear")
    crons.daily("digest", {"hourUTC": 17, "minuteUTC": 30}, send_digest, {"kind": "daily"})
    crons.cron("every weekday at 7:15", "15 7 * * 1-5", "reports:build")

The schedule shapes, their field names and their error messages are Convex's ``cronJobs()``
(``interval``, ``hourly``, ``daily``, ``weekly``, ``monthly``, ``cron``); every time is UTC. An
omitted ``minuteUTC`` is a minute derived from the job's name, stable across restarts, so jobs
sharing an hour do not all start at once (Convex picks one at random for the same reason).
``runtime.functions.cron_runner`` runs the jobs; this module only describes them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from runtime.functions.cron_schedule import CronExpression, parse_cron
from runtime.functions.definitions import FunctionDefinition
from runtime.functions.paths import canonical_path
from runtime.values.errors import ConvexValueError
from runtime.values.values import Value, check_value, strip_undefined

DAYS_OF_WEEK = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


@dataclass(frozen=True)
class CronJob:
    """One declared job: its unique name, its schedule (Convex's JSON shape), its target and arguments."""

    name: str
    schedule: dict[str, Value]
    function: str | FunctionDefinition
    args: dict[str, Value]

    @property
    def interval_ms(self) -> float | None:
        """The period of an ``interval`` schedule, None for clock schedules."""
        if self.schedule["type"] != "interval":
            return None
        unit = next(key for key in ("seconds", "minutes", "hours") if key in self.schedule)
        return float(self.schedule[unit]) * {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000}[unit]

    def target(self, functions: Mapping[str, FunctionDefinition]) -> str:
        """The ``module:function`` path this job runs; it must be a mutation or an action of the app."""
        reference = self.function
        if isinstance(reference, FunctionDefinition):
            if reference.path is None:
                raise ConvexValueError(f"Cron job {self.name}: {reference!r} is not part of this app")
            reference = reference.path
        path = canonical_path(reference)
        function = functions.get(path)
        if function is None:
            raise ConvexValueError(f"Cron job {self.name}: no function at {path}")
        if function.kind not in ("mutation", "action"):
            raise ConvexValueError(
                f"Cron job {self.name}: {path} is a {function.kind}; only mutations and actions can be scheduled"
            )
        return path

    def expression(self) -> CronExpression:
        """The five-field expression of a clock schedule (not of an interval)."""
        schedule = self.schedule
        kind = schedule["type"]
        if kind == "cron":
            return parse_cron(str(schedule["cron"]))
        minute = int(schedule.get("minuteUTC", zlib.crc32(self.name.encode()) % 60))
        if kind == "hourly":
            return parse_cron(f"{minute} * * * *")
        hour = int(schedule["hourUTC"])
        if kind == "daily":
            return parse_cron(f"{minute} {hour} * * *")
        if kind == "weekly":
            return parse_cron(f"{minute} {hour} * * {DAYS_OF_WEEK.index(str(schedule['dayOfWeek']))}")
        return parse_cron(f"{minute} {hour} {int(schedule['day'])} * *")

    def next_run(self, previous_ms: float | None, now: float) -> float:
        """When the job runs next: an interval after its last tick (at once when new); else the next match after now."""
        period = self.interval_ms
        if period is not None:
            return now if previous_ms is None else previous_ms + period
        following = self.expression().next_after(now)
        assert following is not None  # parse_cron rejects expressions that never match
        return following


class Crons:
    """The jobs of one app, by name (Convex's ``Crons``); build it with ``cron_jobs()``."""

    def __init__(self) -> None:
        self.jobs: dict[str, CronJob] = {}

    def interval(self, name: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` every ``{"seconds"|"minutes"|"hours": n}``, starting when first deployed."""
        units = [key for key in ("seconds", "minutes", "hours") if schedule.get(key) is not None]
        if len(units) != 1:
            raise ConvexValueError("Must specify one of seconds, minutes, or hours")
        _positive_integer(schedule[units[0]])
        self._add(name, {"type": "interval", units[0]: float(schedule[units[0]])}, function, args)

    def hourly(self, name: str, schedule: Any, function: Any = None, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` every hour at ``{"minuteUTC": m}`` (the schedule may be left out)."""
        if isinstance(schedule, (str, FunctionDefinition)):
            schedule, function, args = {}, schedule, function
        self._add(name, {"type": "hourly", **_minute(schedule)}, function, args)

    def daily(self, name: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` every day at ``{"hourUTC": h, "minuteUTC": m}``."""
        self._add(name, {"type": "daily", **_hour(schedule), **_minute(schedule)}, function, args)

    def weekly(self, name: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` every week at ``{"dayOfWeek": "monday", "hourUTC": h, "minuteUTC": m}``."""
        day = schedule.get("dayOfWeek")
        if day not in DAYS_OF_WEEK:
            raise ConvexValueError('Day of week must be a string like "monday".')
        self._add(name, {"type": "weekly", "dayOfWeek": day, **_hour(schedule), **_minute(schedule)}, function, args)

    def monthly(self, name: str, schedule: dict[str, Any], function: Any, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` every month at ``{"day": d, "hourUTC": h, "minuteUTC": m}`` (no run in shorter months)."""
        day = schedule.get("day")
        if not _is_integer(day) or not 1 <= float(day) <= 31:
            raise ConvexValueError("Day of month must be an integer from 1 to 31")
        self._add(name, {"type": "monthly", "day": float(day), **_hour(schedule), **_minute(schedule)}, function, args)

    def cron(self, name: str, expression: str, function: Any, args: dict[str, Any] | None = None) -> None:
        """Run ``function`` on a five-field cron expression (UTC; Sunday is 0)."""
        parse_cron(expression)
        self._add(name, {"type": "cron", "cron": expression}, function, args)

    def _add(self, name: str, schedule: dict[str, Value], function: Any, args: dict[str, Any] | None) -> None:
        if not isinstance(name, str) or not all(" " <= char <= "~" for char in name):
            raise ConvexValueError(f"Invalid cron identifier {name}: use ASCII letters that are not control characters")
        if name in self.jobs:
            raise ConvexValueError(f"Cron identifier registered twice: {name}")
        if not isinstance(function, (str, FunctionDefinition)):
            raise ConvexValueError(f"Cron job {name}: the function must be a path or a function, got {function!r}")
        arguments = {} if args is None else args
        if not isinstance(arguments, dict):
            raise ConvexValueError(f"The arguments to a Convex function must be an object. Received: {arguments!r}")
        check_value(arguments)
        cleaned = strip_undefined(arguments)
        assert isinstance(cleaned, dict)
        self.jobs[name] = CronJob(name, schedule, function, cleaned)


def cron_jobs() -> Crons:
    """A new, empty set of cron jobs: assign it to ``crons`` in ``functions/crons.py``."""
    return Crons()


def _is_integer(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _positive_integer(value: Any) -> None:
    if not _is_integer(value) or value <= 0:
        raise ConvexValueError("Interval must be an integer greater than 0")


def _hour(schedule: dict[str, Any]) -> dict[str, Value]:
    hour = schedule.get("hourUTC")
    if not _is_integer(hour) or not 0 <= float(hour) <= 23:
        raise ConvexValueError("Hour of day must be an integer from 0 to 23")
    return {"hourUTC": float(hour)}


def _minute(schedule: dict[str, Any]) -> dict[str, Value]:
    minute = schedule.get("minuteUTC")
    if minute is None:
        return {}
    if not _is_integer(minute) or not 0 <= float(minute) <= 59:
        raise ConvexValueError("Minute of hour must be an integer from 0 to 59")
    return {"minuteUTC": float(minute)}
