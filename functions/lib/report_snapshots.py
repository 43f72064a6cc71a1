"""Daily report snapshots: each past day's conversations pre-aggregated, so a long range reads a few
documents instead of every conversation in it.

A snapshot (``reportSnapshots``) covers one local day of a workspace in its time zone (the one the
reports use) and holds that day's ``ConversationFacts`` as of ``computedAt``. A report reads the
snapshots of the whole days its range covers, and conversation rows for the rest: the partial days
at either end, today, days without a snapshot (or with one for another time zone), and *stale*
days. Every change a report can see bumps a conversation's ``updatedAt``, so a day is stale when
one of its conversations was updated since its snapshot was computed; the changed conversations
are found in the ``by_workspace_updated`` index. Answers are therefore always exact; they cost
snapshots plus rows of what changed since the last refresh.

The ``report snapshots`` cron job (``functions/crons.py``) refreshes every workspace's missing and
stale days over the last ``SNAPSHOT_DAYS`` days, a few days per scheduled step (``refresh_step``).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .clock import now_ms
from .conversation_facts import ConversationFacts, facts_of
from .identity import Doc

SNAPSHOT_DAYS = 120  # how far back the cron job keeps snapshots
DAYS_PER_STEP = 4  # days one refresh step computes at most before scheduling the next
STEP_ROW_BUDGET = 12_000  # conversations read, past which a step starts no further day
STEP_LOOKUPS = 3_000  # ratings a step looks up at most (a transaction reads at most 4,096 index ranges)
CHANGE_SCAN_LIMIT = 2_000  # changed conversations one report or refresh looks at
MAX_DAY_ROWS = 8_192  # a busier day is never snapshotted (a stored array holds at most 8,192 durations)


@dataclass(frozen=True)
class Day:
    """One local day: [start, end) in epoch ms."""

    start: float
    end: float


def day_of(moment: float, tz: ZoneInfo) -> Day:
    """The local day (in ``tz``) holding ``moment``."""
    local = datetime.fromtimestamp(moment / 1000, tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    following = midnight.date() + timedelta(days=1)
    next_midnight = datetime(following.year, following.month, following.day, tzinfo=tz)
    return Day(midnight.timestamp() * 1000, next_midnight.timestamp() * 1000)


def whole_days(start: float, end: float, tz: ZoneInfo) -> list[Day]:
    """The local days lying entirely within [start, end] (``end`` inclusive), oldest first."""
    days, day = [], day_of(start, tz)
    if day.start < start:
        day = day_of(day.end, tz)
    while day.end - 1 <= end:
        days.append(day)
        day = day_of(day.end, tz)
    return days


def _rows_between(ctx: Any, workspace_id: str, start: float, end: float) -> Any:
    """The workspace's conversations created in [start, end), newest first."""
    return (
        ctx.db.query("conversations")
        .with_index(
            "by_workspace_created",
            lambda q: q.eq("workspaceId", workspace_id).gte("createdAt", start).lt("createdAt", end),
        )
        .order("desc")
    )


async def changed_since(ctx: Any, workspace_id: str, since: float) -> list[Doc] | None:
    """Conversations updated at or after ``since`` (None when more than ``CHANGE_SCAN_LIMIT``)."""
    rows = await (
        ctx.db.query("conversations")
        .with_index("by_workspace_updated", lambda q: q.eq("workspaceId", workspace_id).gte("updatedAt", since))
        .take(CHANGE_SCAN_LIMIT + 1)
    )
    return None if len(rows) > CHANGE_SCAN_LIMIT else rows


def stale_starts(snapshots: list[Doc], changed: list[Doc], tz: ZoneInfo) -> set[float]:
    """The day starts of ``snapshots`` that one of the ``changed`` conversations has made stale."""
    computed = {snapshot["dayStart"]: snapshot["computedAt"] for snapshot in snapshots}
    stale = set()
    for row in changed:
        start = day_of(row["createdAt"], tz).start
        if start in computed and row["updatedAt"] >= computed[start]:  # same millisecond: maybe after
            stale.add(start)
    return stale


async def _snapshots(ctx: Any, workspace_id: str, first: float, last: float, tz: ZoneInfo) -> list[Doc]:
    rows = ctx.db.query("reportSnapshots").with_index(
        "by_workspace_day", lambda q: q.eq("workspaceId", workspace_id).gte("dayStart", first).lte("dayStart", last)
    )
    return [row async for row in rows if row["timezone"] == tz.key]


async def conversation_facts(
    ctx: Any, workspace_id: str, start: float, end: float, tz: ZoneInfo, scan_limit: int
) -> tuple[ConversationFacts, bool]:
    """``(facts, truncated)`` of the conversations created in [start, end]: fresh snapshots plus rows.

    At most ``scan_limit`` rows are read; past it the newest are kept and ``truncated`` is True. The
    snapshots bring their conversations' ratings; rows' ratings are the caller's to add.
    """
    days = whole_days(start, end, tz)
    usable: dict[float, Doc] = {}
    if days:
        snapshots = await _snapshots(ctx, workspace_id, days[0].start, days[-1].start, tz)
        whole = {day.start for day in days}
        snapshots = [snapshot for snapshot in snapshots if snapshot["dayStart"] in whole]
        changed = await changed_since(ctx, workspace_id, min(s["computedAt"] for s in snapshots)) if snapshots else []
        if changed is not None:
            stale = stale_starts(snapshots, changed, tz)
            usable = {s["dayStart"]: s for s in snapshots if s["dayStart"] not in stale}
    facts = ConversationFacts()
    for snapshot in usable.values():
        facts.add_snapshot(snapshot)
    budget, truncated = scan_limit, False
    for low, high in reversed(_gaps(start, end + 1, sorted(usable), days)):  # newest first
        rows = await _rows_between(ctx, workspace_id, low, high).take(budget + 1)
        for row in rows[:budget]:
            facts.add_row(row)
        if len(rows) > budget:
            truncated = True
            break
        budget -= len(rows)
    return facts, truncated


def _gaps(start: float, stop: float, covered: list[float], days: list[Day]) -> list[tuple[float, float]]:
    """The parts of [start, stop) not covered by the snapshot days starting at ``covered``, oldest first."""
    ends = {day.start: day.end for day in days}
    gaps, cursor = [], start
    for day_start in covered:
        if cursor < day_start:
            gaps.append((cursor, day_start))
        cursor = ends[day_start]
    if cursor < stop:
        gaps.append((cursor, stop))
    return gaps


# --- refreshing (the cron job) ------------------------------------------------------------------
async def days_to_refresh(ctx: Any, workspace_id: str, tz: ZoneInfo, now: float) -> list[Day]:
    """The workspace's past days (of the last ``SNAPSHOT_DAYS``) without a fresh snapshot, newest first."""
    today = day_of(now, tz)
    days = whole_days(today.start - SNAPSHOT_DAYS * 86_400_000, today.start - 1, tz)
    snapshots = await _snapshots(ctx, workspace_id, days[0].start, days[-1].start, tz) if days else []
    changed = await changed_since(ctx, workspace_id, min((s["computedAt"] for s in snapshots), default=now))
    stale = stale_starts(snapshots, changed, tz) if changed is not None else {s["dayStart"] for s in snapshots}
    fresh = {snapshot["dayStart"] for snapshot in snapshots} - stale
    return [day for day in reversed(days) if day.start not in fresh]


async def refresh_step(ctx: Any, workspace_id: str, tz: ZoneInfo, now: float) -> tuple[int, int]:
    """Recompute the workspace's days that need it, newest first, within one step's budgets.

    Returns ``(days refreshed, days still due)``.
    """
    due = await days_to_refresh(ctx, workspace_id, tz, now)
    done, rows_read, lookups = 0, 0, 0
    while done < min(len(due), DAYS_PER_STEP) and rows_read < STEP_ROW_BUDGET:
        cost = await refresh_day(ctx, workspace_id, due[done], tz, STEP_LOOKUPS - lookups)
        if cost is None:
            break
        rows_read, lookups, done = rows_read + cost[0], lookups + cost[1], done + 1
    return done, len(due) - done


async def refresh_day(ctx: Any, workspace_id: str, day: Day, tz: ZoneInfo, lookups_left: int) -> tuple[int, int] | None:
    """(Re)compute one day's snapshot: ``(rows read, ratings looked up)``, or None to leave it for the next step.

    A conversation's rating is the one its ``csatResponseId`` names. A day of more than
    ``MAX_DAY_ROWS`` conversations, or more than ``STEP_LOOKUPS`` rated ones, keeps no snapshot.
    """
    rows = await _rows_between(ctx, workspace_id, day.start, day.end).take(MAX_DAY_ROWS + 1)
    rated = [row["csatResponseId"] for row in rows if row.get("csatResponseId")]
    too_busy = len(rows) > MAX_DAY_ROWS or len(rated) > STEP_LOOKUPS
    if not too_busy and len(rated) > lookups_left:
        return None
    existing = await (
        ctx.db.query("reportSnapshots")
        .with_index("by_workspace_day", lambda q: q.eq("workspaceId", workspace_id).eq("dayStart", day.start))
        .first()
    )
    if too_busy:
        if existing is not None:
            await ctx.db.delete(existing["_id"])
        return len(rows), 0
    ratings = [rating for rating in [await ctx.db.get(rating_id) for rating_id in rated] if rating is not None]
    snapshot = {"workspaceId": workspace_id, "dayStart": day.start, "dayEnd": day.end, "timezone": tz.key,
                "computedAt": now_ms(), **facts_of(rows, ratings).as_snapshot()}  # fmt: skip
    if existing is not None:
        await ctx.db.replace(existing["_id"], snapshot)
    else:
        await ctx.db.insert("reportSnapshots", snapshot)
    return len(rows), len(rated)
