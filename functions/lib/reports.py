"""Building the reports read from rows (``lib/report_sources``) with ``lib/report_math``: workload,
CSAT, the AI agent; the conversation reports are ``lib/conversation_facts``'.

Shapes follow Opencom's reporting queries; periods are in the workspace's time zone.
"""

from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from .identity import Doc
from .report_math import average, period_key, ratio


def workload(open_rows: list[Doc], names: dict[str, str]) -> Doc:
    """Open conversations per assignee, and how many nobody holds."""
    counts = Counter(row["assignedAgentId"] for row in open_rows if row.get("assignedAgentId"))
    distribution = [
        {"agentId": agent, "agentName": names.get(agent, "Unknown"), "openConversations": float(count)}
        for agent, count in counts.items()
    ]
    return {
        "distribution": sorted(distribution, key=lambda d: (-d["openConversations"], d["agentId"])),
        "unassigned": float(len(open_rows) - sum(counts.values())),
        "total": float(len(open_rows)),
    }


def csat_metrics(rows: list[Doc], granularity: str, tz: ZoneInfo) -> Doc:
    """Average rating, distribution, share of 4-5 ratings, and the trend per period."""
    ratings = [row["rating"] for row in rows]
    distribution = Counter(int(rating) for rating in ratings)
    by_period: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_period[period_key(row["createdAt"], granularity, tz)].append(row["rating"])
    return {
        "totalResponses": float(len(rows)),
        "averageRating": average(ratings),
        "ratingDistribution": {str(score): float(distribution[score]) for score in range(1, 6)},
        "satisfactionRate": ratio(sum(1 for rating in ratings if rating >= 4), len(ratings)),
        "trendByPeriod": [
            {"period": key, "averageRating": average(by_period[key]), "count": float(len(by_period[key]))}
            for key in sorted(by_period)
        ],
    }


def csat_by_agent(rows: list[Doc], names: dict[str, str]) -> list[Doc]:
    """Average rating per agent the rated conversation was assigned to."""
    per_agent: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("agentId"):
            per_agent[row["agentId"]].append(row["rating"])
    result = [
        {"agentId": agent, "agentName": names.get(agent, "Unknown"), "averageRating": average(ratings),
         "totalResponses": float(len(ratings))}
        for agent, ratings in per_agent.items()
    ]  # fmt: skip
    return sorted(result, key=lambda r: (-r["averageRating"], r["agentId"]))


def ai_metrics(rows: list[Doc], granularity: str, tz: ZoneInfo) -> Doc:
    """How the AI agent did: answers, hand-offs, feedback, speed, confidence, tokens, trend."""
    total = len(rows)
    handed_off = sum(1 for row in rows if row["handedOff"])
    helpful = sum(1 for row in rows if row.get("feedback") == "helpful")
    rated = sum(1 for row in rows if row.get("feedback"))
    by_period: dict[str, list[Doc]] = defaultdict(list)
    for row in rows:
        by_period[period_key(row["createdAt"], granularity, tz)].append(row)
    trend = []
    for key in sorted(by_period):
        group = by_period[key]
        group_rated = [row for row in group if row.get("feedback")]
        trend.append(
            {
                "period": key,
                "totalResponses": float(len(group)),
                "resolutionRate": ratio(sum(1 for row in group if not row["handedOff"]), len(group)),
                "satisfactionRate": ratio(
                    sum(1 for row in group_rated if row["feedback"] == "helpful"), len(group_rated)
                ),
            }
        )
    return {
        "totalResponses": float(total),
        "resolvedByAI": float(total - handed_off),
        "handedOff": float(handed_off),
        "resolutionRate": ratio(total - handed_off, total),
        "handoffRate": ratio(handed_off, total),
        "avgResponseTimeMs": average([row["generationTimeMs"] for row in rows]),
        "avgConfidence": average([row["confidence"] for row in rows]),
        "satisfactionRate": ratio(helpful, rated),
        "totalTokensUsed": float(sum(row.get("tokensUsed", 0.0) for row in rows)),
        "trendByPeriod": trend,
    }


def knowledge_gaps(answers: list[Doc], limit: int) -> list[Doc]:
    """The questions the AI could not answer well (handed off, confidence under 0.5, or rated unhelpful), most asked first."""
    gaps: dict[str, Doc] = {}
    for answer in answers:
        if not (answer["handedOff"] or answer["confidence"] < 0.5 or answer.get("feedback") == "not_helpful"):
            continue
        text = answer["query"].strip().lower()
        gap = gaps.setdefault(text, {"query": text, "confidence": answer["confidence"], "count": 0.0})
        gap["count"] += 1
        gap["confidence"] = min(gap["confidence"], answer["confidence"])
    return sorted(gaps.values(), key=lambda gap: (-gap["count"], gap["query"]))[:limit]
