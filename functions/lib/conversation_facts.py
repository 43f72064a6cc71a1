"""What the conversation reports need to know about a set of conversations, in a form that adds up.

``ConversationFacts`` can take conversations one by one (``add_row``) or a stored daily snapshot
of them (``add_snapshot``; ``as_snapshot`` writes one), and answers the conversation reports
exactly either way: counts and sums add, and the duration lists (kept whole and sorted, since
percentiles cannot be added) merge. A snapshot also holds the CSAT ratings its conversations have
had so far, for the AI-against-human comparison; rows get theirs through ``add_rating``. Every
stored duration is a whole number of milliseconds, so the sums are exact in float64 and an average
does not depend on the order things were added.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .identity import Doc
from .report_math import first_response_ms, period_key, resolution_ms, summarize_durations

STATUSES = ("open", "closed", "snoozed")


AGENT_SUMS = ("handled", "responseSum", "responses", "resolutionSum", "resolutions")
GROUP_SUMS = ("count", "responseSum", "responses", "ratingSum", "ratings")


def stored_sums(tally: Counter, names: tuple[str, ...]) -> Doc:
    """A tally of named counts and sums as stored (every one present, as a float)."""
    return {name: float(tally[name]) for name in names}


def mean(tally: Counter, total: str, count: str) -> float:
    """``tally[total] / tally[count]``, 0 when nothing was counted."""
    return tally[total] / tally[count] if tally[count] else 0.0


def ai_involved(conversation: Doc) -> bool:
    """Whether the AI agent answered or handed off in the conversation."""
    return conversation.get("aiLastResponseAt") is not None or conversation.get("aiWorkflowState", "none") != "none"


@dataclass
class ConversationFacts:
    """Counts, sums and durations of a set of conversations (see module doc)."""

    total: int = 0
    statuses: Counter = field(default_factory=Counter)
    email: int = 0
    created: Counter = field(default_factory=Counter)  # creation moment (or a day's start) -> conversations
    response_durations: list[float] = field(default_factory=list)  # positive first-response times
    resolution_durations: list[float] = field(default_factory=list)  # positive resolution times
    response_sum: float = 0.0  # every stamped first response, as the summary averages them
    responses: int = 0
    resolution_sum: float = 0.0
    resolutions: int = 0
    agents: dict[str, Counter] = field(default_factory=dict)  # assignee -> AGENT_SUMS
    groups: dict[str, Counter] = field(default_factory=lambda: {"ai": Counter(), "human": Counter()})  # GROUP_SUMS
    row_groups: dict[str, str] = field(default_factory=dict)  # conversations added as rows -> their group

    def add_row(self, row: Doc) -> None:
        """Count one conversation (its rating, if any, comes through ``add_rating``)."""
        group_name = "ai" if ai_involved(row) else "human"
        self.row_groups[row["_id"]] = group_name
        group = self.groups[group_name]
        group["count"] += 1
        if row.get("firstResponseAt"):
            group.update(responseSum=row["firstResponseAt"] - row["createdAt"], responses=1)
        self.total += 1
        self.statuses[row["status"]] += 1
        self.email += row.get("channel") == "email"
        self.created[row["createdAt"]] += 1
        if (duration := first_response_ms(row)) is not None:
            self.response_durations.append(duration)
        if (duration := resolution_ms(row)) is not None:
            self.resolution_durations.append(duration)
        agent = self.agents.setdefault(row["assignedAgentId"], Counter()) if row.get("assignedAgentId") else None
        if agent is not None:
            agent["handled"] += 1
        if row.get("firstResponseAt"):
            self.response_sum += row["firstResponseAt"] - row["createdAt"]
            self.responses += 1
            if agent is not None:
                agent.update(responseSum=row["firstResponseAt"] - row["createdAt"], responses=1)
        if row.get("resolvedAt"):
            self.resolution_sum += row["resolvedAt"] - row["createdAt"]
            self.resolutions += 1
            if agent is not None:
                agent.update(resolutionSum=row["resolvedAt"] - row["createdAt"], resolutions=1)

    def add_rating(self, rating: Doc) -> None:
        """Count a CSAT rating of a conversation added as a row (ratings of others are ignored)."""
        group_name = self.row_groups.get(rating["conversationId"])
        if group_name is not None:
            self.groups[group_name].update(ratingSum=rating["rating"], ratings=1)

    def add_snapshot(self, snapshot: Doc) -> None:
        """Count a stored day (``as_snapshot``'s shape) whole, the ratings of its conversations included."""
        for name, group in self.groups.items():
            group.update(snapshot["groups"][name])
        self.total += int(snapshot["total"])
        self.statuses.update({status: int(count) for status, count in snapshot["byStatus"].items()})
        self.email += int(snapshot["email"])
        if snapshot["total"]:
            self.created[snapshot["dayStart"]] += int(snapshot["total"])
        self.response_durations.extend(snapshot["responseDurations"])
        self.resolution_durations.extend(snapshot["resolutionDurations"])
        self.response_sum += snapshot["responseSum"]
        self.responses += int(snapshot["responses"])
        self.resolution_sum += snapshot["resolutionSum"]
        self.resolutions += int(snapshot["resolutions"])
        for stored in snapshot["agents"]:
            self.agents.setdefault(stored["agentId"], Counter()).update({name: stored[name] for name in AGENT_SUMS})

    def as_snapshot(self) -> dict[str, Any]:
        """The stored form of these facts (without the day's identity)."""
        return {
            "total": float(self.total),
            "byStatus": {status: float(self.statuses[status]) for status in STATUSES},
            "email": float(self.email),
            "responseDurations": sorted(self.response_durations),
            "resolutionDurations": sorted(self.resolution_durations),
            "responseSum": self.response_sum,
            "responses": float(self.responses),
            "resolutionSum": self.resolution_sum,
            "resolutions": float(self.resolutions),
            "agents": [
                {"agentId": agent_id, **stored_sums(agent, AGENT_SUMS)}
                for agent_id, agent in sorted(self.agents.items())
            ],
            "groups": {name: stored_sums(group, GROUP_SUMS) for name, group in self.groups.items()},
        }  # fmt: skip

    # --- the reports ---------------------------------------------------------------------------
    def conversation_metrics(self, granularity: str, tz: ZoneInfo) -> Doc:
        """Volume per period and by status and channel."""
        volume: Counter = Counter()
        for moment, count in self.created.items():
            volume[period_key(moment, granularity, tz)] += count
        return {
            "total": float(self.total),
            "volumeByPeriod": [{"period": key, "count": float(volume[key])} for key in sorted(volume)],
            "byStatus": {status: float(self.statuses[status]) for status in STATUSES},
            "byChannel": {"chat": float(self.total - self.email), "email": float(self.email)},
        }

    def response_times(self) -> Doc:
        """First-response time summary over the conversations answered."""
        return summarize_durations(self.response_durations)

    def resolution_times(self) -> Doc:
        """Resolution time summary over the conversations resolved."""
        return summarize_durations(self.resolution_durations)

    def agent_metrics(self, names: dict[str, str]) -> list[Doc]:
        """Per assigned agent: conversations handled, resolved, mean response and resolution times."""
        metrics = [
            {
                "agentId": agent_id,
                "agentName": names.get(agent_id, "Unknown"),
                "conversationsHandled": float(agent["handled"]),
                "resolved": float(agent["resolutions"]),
                "avgResponseTimeMs": mean(agent, "responseSum", "responses"),
                "avgResolutionTimeMs": mean(agent, "resolutionSum", "resolutions"),
            }
            for agent_id, agent in self.agents.items()
        ]
        return sorted(metrics, key=lambda m: (-m["conversationsHandled"], m["agentId"]))

    def ai_vs_human(self) -> Doc:
        """Conversations the AI took part in against the others: count, mean first response, CSAT."""
        return {
            name: {
                "conversationCount": float(group["count"]),
                "avgResponseTimeMs": mean(group, "responseSum", "responses"),
                "avgCsatRating": mean(group, "ratingSum", "ratings"),
                "csatResponseCount": float(group["ratings"]),
            }
            for name, group in self.groups.items()
        }

    def averages(self) -> tuple[float, float]:
        """The summary's mean first-response and resolution times."""
        return (
            self.response_sum / self.responses if self.responses else 0.0,
            self.resolution_sum / self.resolutions if self.resolutions else 0.0,
        )


def facts_of(rows: list[Doc], ratings: list[Doc]) -> ConversationFacts:
    """The facts of these conversations and of their ``ratings``."""
    facts = ConversationFacts()
    for row in rows:
        facts.add_row(row)
    for rating in ratings:
        facts.add_rating(rating)
    return facts
