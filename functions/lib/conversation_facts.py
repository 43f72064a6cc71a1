"""What the conversation reports need to know about a set of conversations, in a form that adds up.

``ConversationFacts`` can take conversations one by one (``add_row``) or a stored daily snapshot
of them (``add_snapshot``; ``as_snapshot`` writes one), and answers the conversation reports
exactly either way: counts and sums add, and the duration lists (kept whole and sorted, since
percentiles cannot be added) merge. A snapshot also holds the CSAT ratings its conversations have
had so far, for the AI-against-human comparison; rows get theirs through ``add_rating``. Every stored duration is a whole number of milliseconds, so
the sums are exact in float64 and an average does not depend on the order things were added.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .identity import Doc
from .report_math import first_response_ms, period_key, resolution_ms, summarize_durations

STATUSES = ("open", "closed", "snoozed")


@dataclass
class AgentFacts:
    """One assignee's conversations: how many, and the sums behind the mean response/resolution times."""

    handled: int = 0
    response_sum: float = 0.0
    responses: int = 0
    resolution_sum: float = 0.0
    resolutions: int = 0


@dataclass
class GroupFacts:
    """The conversations the AI agent took part in, or the others: count, first-response and rating sums."""

    count: int = 0
    response_sum: float = 0.0
    responses: int = 0
    rating_sum: float = 0.0
    ratings: int = 0

    def add(self, stored: Doc) -> None:
        """Add a stored group (``as_dict``'s shape)."""
        self.count += int(stored["count"])
        self.response_sum += stored["responseSum"]
        self.responses += int(stored["responses"])
        self.rating_sum += stored["ratingSum"]
        self.ratings += int(stored["ratings"])

    def as_dict(self) -> Doc:
        return {"count": float(self.count), "responseSum": self.response_sum, "responses": float(self.responses),
                "ratingSum": self.rating_sum, "ratings": float(self.ratings)}  # fmt: skip


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
    agents: dict[str, AgentFacts] = field(default_factory=dict)
    groups: dict[str, GroupFacts] = field(default_factory=lambda: {"ai": GroupFacts(), "human": GroupFacts()})
    row_groups: dict[str, str] = field(default_factory=dict)  # conversations added as rows -> their group

    def add_row(self, row: Doc) -> None:
        """Count one conversation (its rating, if any, comes through ``add_rating``)."""
        group_name = "ai" if ai_involved(row) else "human"
        self.row_groups[row["_id"]] = group_name
        group = self.groups[group_name]
        group.count += 1
        if row.get("firstResponseAt"):
            group.response_sum += row["firstResponseAt"] - row["createdAt"]
            group.responses += 1
        self.total += 1
        self.statuses[row["status"]] += 1
        self.email += row.get("channel") == "email"
        self.created[row["createdAt"]] += 1
        if (duration := first_response_ms(row)) is not None:
            self.response_durations.append(duration)
        if (duration := resolution_ms(row)) is not None:
            self.resolution_durations.append(duration)
        agent = self.agents.setdefault(row["assignedAgentId"], AgentFacts()) if row.get("assignedAgentId") else None
        if agent is not None:
            agent.handled += 1
        if row.get("firstResponseAt"):
            self.response_sum += row["firstResponseAt"] - row["createdAt"]
            self.responses += 1
            if agent is not None:
                agent.response_sum += row["firstResponseAt"] - row["createdAt"]
                agent.responses += 1
        if row.get("resolvedAt"):
            self.resolution_sum += row["resolvedAt"] - row["createdAt"]
            self.resolutions += 1
            if agent is not None:
                agent.resolution_sum += row["resolvedAt"] - row["createdAt"]
                agent.resolutions += 1

    def add_rating(self, rating: Doc) -> None:
        """Count a CSAT rating of a conversation added as a row (ratings of others are ignored)."""
        group_name = self.row_groups.get(rating["conversationId"])
        if group_name is not None:
            self.groups[group_name].rating_sum += rating["rating"]
            self.groups[group_name].ratings += 1

    def add_snapshot(self, snapshot: Doc) -> None:
        """Count a stored day (``as_snapshot``'s shape) whole, the ratings of its conversations included."""
        for name, group in self.groups.items():
            group.add(snapshot["groups"][name])
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
            agent = self.agents.setdefault(stored["agentId"], AgentFacts())
            agent.handled += int(stored["handled"])
            agent.response_sum += stored["responseSum"]
            agent.responses += int(stored["responses"])
            agent.resolution_sum += stored["resolutionSum"]
            agent.resolutions += int(stored["resolutions"])

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
                {"agentId": agent_id, "handled": float(agent.handled), "responseSum": agent.response_sum,
                 "responses": float(agent.responses), "resolutionSum": agent.resolution_sum,
                 "resolutions": float(agent.resolutions)}
                for agent_id, agent in sorted(self.agents.items())
            ],
            "groups": {name: group.as_dict() for name, group in self.groups.items()},
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
                "conversationsHandled": float(agent.handled),
                "resolved": float(agent.resolutions),
                "avgResponseTimeMs": agent.response_sum / agent.responses if agent.responses else 0.0,
                "avgResolutionTimeMs": agent.resolution_sum / agent.resolutions if agent.resolutions else 0.0,
            }
            for agent_id, agent in self.agents.items()
        ]
        return sorted(metrics, key=lambda m: (-m["conversationsHandled"], m["agentId"]))

    def ai_vs_human(self) -> Doc:
        """Conversations the AI took part in against the others: count, mean first response, CSAT."""
        return {
            name: {
                "conversationCount": float(group.count),
                "avgResponseTimeMs": group.response_sum / group.responses if group.responses else 0.0,
                "avgCsatRating": group.rating_sum / group.ratings if group.ratings else 0.0,
                "csatResponseCount": float(group.ratings),
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
