"""The arithmetic of reports: periods in a time zone, duration summaries, rates.

Pure functions over plain values, so the reporting tests can check them against a brute-force
computation. Percentiles follow Opencom: the element at ``floor(n * q)`` of the sorted values.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

QUARTER_HOUR_MS = 900_000


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_key(timestamp_ms: float, granularity: str, tz: ZoneInfo) -> str:
    """The period a moment falls in, in ``tz``: ``YYYY-MM-DD`` (day, or the Sunday starting its week) or ``YYYY-MM``.

    Every UTC offset in use is a whole number of quarter hours, so all moments of one quarter hour
    share a period: the key is computed once per quarter hour (reports call this once per row).
    """
    return _quarter_hour_key(int(timestamp_ms // QUARTER_HOUR_MS), granularity, tz)


@lru_cache(maxsize=65_536)
def _quarter_hour_key(quarter_hour: int, granularity: str, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(quarter_hour * QUARTER_HOUR_MS / 1000.0, UTC).astimezone(tz)
    if granularity == "month":
        return f"{local.year:04d}-{local.month:02d}"
    if granularity == "week":
        local -= timedelta(days=(local.weekday() + 1) % 7)
    return local.date().isoformat()


def summarize_durations(durations: Iterable[float]) -> dict[str, float]:
    """``{count, averageMs, medianMs, p90Ms, p95Ms}`` of the durations (all zero when there are none)."""
    ordered = sorted(durations)
    n = len(ordered)
    if n == 0:
        return {"count": 0.0, "averageMs": 0.0, "medianMs": 0.0, "p90Ms": 0.0, "p95Ms": 0.0}
    return {
        "count": float(n),
        "averageMs": sum(ordered) / n,
        "medianMs": ordered[n // 2],
        "p90Ms": ordered[int(n * 0.9)],
        "p95Ms": ordered[int(n * 0.95)],
    }


def average(values: list[float]) -> float:
    """The mean, 0 for no values."""
    return sum(values) / len(values) if values else 0.0


def ratio(part: float, whole: float) -> float:
    """``part / whole``, 0 when ``whole`` is 0."""
    return part / whole if whole else 0.0


def first_response_ms(conversation: dict) -> float | None:
    """Time to the first agent reply, when there was one after creation."""
    if conversation.get("firstResponseAt") is None:
        return None
    duration = conversation["firstResponseAt"] - conversation["createdAt"]
    return duration if duration > 0 else None


def resolution_ms(conversation: dict) -> float | None:
    """Time to resolution, when the conversation was resolved after creation."""
    if conversation.get("resolvedAt") is None:
        return None
    duration = conversation["resolvedAt"] - conversation["createdAt"]
    return duration if duration > 0 else None
