"""What the conversation reports need to know about a set of conversations, in a form that adds up.

``ConversationFacts`` can take conversations one by one (``add_row``) or a stored daily snapshot
of them (``add_snapshot``; ``as_snapshot`` writes one), and answers the conversation reports
exactly either way: counts and sums add, and the duration lists (kept whole and sorted, since
percentiles cannot be added) merge. Every stored duration is a whole number of milliseconds, so
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

    def add_row(self, row: Doc) -> None:
        """Count one conversation."""
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

    def add_snapshot(self, snapshot: Doc) -> None:
        """Count a stored day (``as_snapshot``'s shape) whole."""
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

    def averages(self) -> tuple[float, float]:
        """The summary's mean first-response and resolution times."""
        return (
            self.response_sum / self.responses if self.responses else 0.0,
            self.resolution_sum / self.resolutions if self.resolutions else 0.0,
        )


def facts_of(rows: list[Doc]) -> ConversationFacts:
    """The facts of these conversations."""
    facts = ConversationFacts()
    for row in rows:
        facts.add_row(row)
    return facts
