"""How often the AI agent may answer: per workspace and per visitor, so no visitor (or script posing
as many) can run up a workspace's LLM bill or flood its inbox with hand-offs.

Each limit is a token bucket (``runtime.auth.rate_limit.spend``) that refills evenly over its
window; an answer spends one token of the workspace's and one of the visitor's before any
retrieval or model call, in one mutation, so concurrent calls cannot overspend. The defaults can
be changed per deployment with ``opencom env set`` (the variable names are ``LIMIT_ENV``'s).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.auth import rate_limit

from .clock import now_ms
from .errors import RATE_LIMITED


@dataclass(frozen=True)
class AnswerLimits:
    """Answers allowed per window: ``workspace`` per hour, ``visitor`` per ten minutes."""

    workspace: int = 600
    visitor: int = 20


WORKSPACE_WINDOW_S = 3600.0
VISITOR_WINDOW_S = 600.0
LIMIT_ENV = {"workspace": "AI_ANSWERS_PER_WORKSPACE_PER_HOUR", "visitor": "AI_ANSWERS_PER_VISITOR_PER_10_MIN"}


def limits_from_env(env: Mapping[str, str]) -> AnswerLimits:
    """The deployment's limits: each variable of ``LIMIT_ENV`` that holds a positive integer, else the default."""
    chosen: dict[str, int] = {}
    for field, name in LIMIT_ENV.items():
        raw = (env.get(name) or "").strip()
        if raw.isdigit() and int(raw) > 0:
            chosen[field] = int(raw)
    return AnswerLimits(**chosen)


async def spend_answer(ctx: Any, workspace_id: str, visitor_id: str, limits: AnswerLimits) -> None:
    """Spend one answer of the workspace's and the visitor's allowance, or refuse with RATE_LIMITED."""
    now = now_ms()
    await rate_limit.spend(
        ctx, f"ai-answer:workspace:{workspace_id}", now, limit=limits.workspace, window_s=WORKSPACE_WINDOW_S,
        code=RATE_LIMITED, message="This workspace's AI agent has answered too many questions",
    )  # fmt: skip
    await rate_limit.spend(
        ctx, f"ai-answer:visitor:{visitor_id}", now, limit=limits.visitor, window_s=VISITOR_WINDOW_S,
        code=RATE_LIMITED, message="Too many AI agent questions from this visitor",
    )  # fmt: skip
