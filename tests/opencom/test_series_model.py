"""Series runtime against a reference interpreter (hypothesis state machine).

Each run builds a random series that passes readiness — a chain of chat, post, rule,
duration-wait and event-wait blocks where a rule's "no" branch may skip ahead, triggered by the tag
"vip" — then enrolls visitors (directly, or by tagging their conversation), flips their plan (which
rules test), fires the awaited event and advances the clock (the scheduler wakes due waits on the
way; every row is then woken once more, which must change nothing). After every step each
visitor's stored progress (status, current block, wait, blocks completed so far) must equal what a
small interpreter of the same graph says, and their conversation must hold exactly one bot message
per chat or post block they passed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from opencom_backend import open_backend

MINUTE = 60_000.0  # minutes keep the clock jumps short (every cron on the way runs)
VISITORS = 3
EVENT = "upgraded"
KINDS = ("chat", "post", "rule", "wait_minutes", "wait_event")
MESSAGES = ("chat", "post")  # blocks that post a message
TAG = "vip"
TAGGED = {"source": "visitor_state_changed", "attributeKey": "tag", "toValue": TAG}


@st.composite
def graphs(draw: Any) -> list[dict[str, Any]]:
    """Blocks 0..n-1, each leading to the next; a rule's "no" branch goes to any later block."""
    size = draw(st.integers(2, 5))
    blocks = []
    for index in range(size):
        kind = draw(st.sampled_from(KINDS if index < size - 1 else ("chat", "post", "wait_minutes", "wait_event")))
        spec: dict[str, Any] = {"kind": kind}
        if kind == "wait_minutes":
            spec["minutes"] = draw(st.integers(1, 30))
        if kind == "rule":
            spec["no"] = draw(st.integers(index + 1, size - 1))
        blocks.append(spec)
    return blocks


@dataclass
class Journey:
    """The reference interpreter's view of one visitor."""

    status: str = "active"
    block: int | None = 0
    wait_until: float | None = None
    wait_event: str | None = None
    history: list[int] = field(default_factory=list)  # blocks completed, in order

    def run(self, graph: list[dict[str, Any]], plan: str, now: float) -> None:
        while self.status not in ("completed",):
            if self.status == "waiting":
                if self.wait_event or (self.wait_until or 0) > now:
                    return
                self.status, self.wait_until = "active", None
                self.history.append(self.block or 0)
                self.goto(graph, (self.block or 0) + 1)
                continue
            spec = graph[self.block or 0]
            if spec["kind"] == "wait_minutes":
                self.status, self.wait_until = "waiting", now + spec["minutes"] * MINUTE
                return
            if spec["kind"] == "wait_event":
                self.status, self.wait_event = "waiting", EVENT
                return
            following = (self.block or 0) + 1 if spec["kind"] in MESSAGES or plan == "pro" else spec["no"]
            self.history.append(self.block or 0)
            self.goto(graph, following)

    def goto(self, graph: list[dict[str, Any]], index: int) -> None:
        if index >= len(graph):
            self.status, self.block = "completed", None
        else:
            self.block = index


class SeriesModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.backend = self.loop.run_until_complete(open_backend())
        self.journeys: dict[int, Journey] = {}
        self.progress: dict[int, str] = {}
        self.plans = ["free"] * VISITORS

    def teardown(self) -> None:
        self.loop.run_until_complete(self.backend.close())
        self.loop.close()

    def call(self, path: str, args: dict[str, Any], *, internal: bool = False) -> Any:
        if internal:
            return self.loop.run_until_complete(self.backend.internal(path, args))
        return self.loop.run_until_complete(self.backend.call(path, args, as_=self.team.admin))

    @initialize(graph=graphs())
    def build(self, graph: list[dict[str, Any]]) -> None:
        self.graph = graph
        self.team = self.loop.run_until_complete(self.backend.seed_team())
        series = {"workspaceId": self.team.workspace_id, "name": "Model", "entryTriggers": [TAGGED]}
        self.series_id = self.call("series:create", series)
        configs = {
            "chat": lambda spec: {"body": "hello"},
            "post": lambda spec: {"body": "news"},
            "rule": lambda spec: {"rules": {"type": "condition", "property": {"source": "custom", "key": "plan"}, "operator": "equals", "value": "pro"}},
            "wait_minutes": lambda spec: {"waitType": "duration", "waitDuration": float(spec["minutes"]), "waitUnit": "minutes"},
            "wait_event": lambda spec: {"waitType": "until_event", "waitUntilEvent": EVENT},
        }
        self.blocks = []
        for spec in graph:
            block = {"seriesId": self.series_id, "type": spec["kind"].split("_")[0], "position": {"x": 0.0, "y": 0.0}, "config": configs[spec["kind"]](spec)}
            self.blocks.append(self.call("series:addBlock", block))
        for index, spec in enumerate(graph[:-1]):
            link = {"seriesId": self.series_id, "fromBlockId": self.blocks[index], "toBlockId": self.blocks[index + 1]}
            if spec["kind"] == "rule":
                self.call("series:addConnection", {**link, "condition": "yes"})
                self.call("series:addConnection", {**link, "toBlockId": self.blocks[spec["no"]], "condition": "no"})
            else:
                self.call("series:addConnection", link)
        self.call("series:activate", {"id": self.series_id})
        booted = [self.loop.run_until_complete(self.backend.boot(self.team.workspace_id)) for _ in range(VISITORS)]
        self.visitors = [visitor.visitor_id for visitor in booted]
        self.conversations = [self.loop.run_until_complete(self.backend.visitor_conversation(visitor)) for visitor in booted]
        self.tag_id = self.call("tags:create", {"workspaceId": self.team.workspace_id, "name": TAG})
        self.tagged: set[int] = set()

    def now(self) -> float:
        return float(int(self.backend.t.now_ms()))

    @rule(visitor=st.integers(0, VISITORS - 1))
    def enroll(self, visitor: int) -> None:
        args = {"seriesId": self.series_id, "visitorId": self.visitors[visitor], "triggerContext": TAGGED}
        entered = self.call("series:evaluateEntry", args, internal=True)
        assert entered["entered"] == (visitor not in self.journeys), entered
        if visitor not in self.journeys:
            self.progress[visitor] = entered["progressId"]
            self.start(visitor)

    @rule(visitor=st.integers(0, VISITORS - 1))
    def tag(self, visitor: int) -> None:
        """Tag the visitor's conversation: the first time, a not yet enrolled visitor enters (the offer runs now)."""
        self.call("tags:addToConversation", {"conversationId": self.conversations[visitor], "tagId": self.tag_id})
        self.loop.run_until_complete(self.backend.t.advance_time(0))  # starts the offer, due now
        self.loop.run_until_complete(self.backend.t.finish_in_progress_scheduled_functions())
        first, self.tagged = visitor not in self.tagged, self.tagged | {visitor}
        if first and visitor not in self.journeys:
            stored = self.call("series:getProgress", {"seriesId": self.series_id, "visitorId": self.visitors[visitor]})
            self.progress[visitor] = stored["_id"]
            self.start(visitor)

    def start(self, visitor: int) -> None:
        self.journeys[visitor] = Journey()
        self.journeys[visitor].run(self.graph, self.plans[visitor], self.now())

    @rule(visitor=st.integers(0, VISITORS - 1), plan=st.sampled_from(["free", "pro"]))
    def set_plan(self, visitor: int, plan: str) -> None:
        self.plans[visitor] = plan
        self.loop.run_until_complete(self.backend.patch(self.visitors[visitor], {"customAttributes": {"plan": plan}}))

    @rule(minutes=st.integers(0, 45))
    def advance(self, minutes: int) -> None:
        target = self.now() + minutes * MINUTE
        for _ in range(minutes):  # a minute at a time, each wake-up finished before the clock moves on
            self.loop.run_until_complete(self.backend.t.advance_time(MINUTE / 1000))
            self.loop.run_until_complete(self.backend.t.finish_in_progress_scheduled_functions())
        while True:  # the model wakes each due wait at its own instant, as the scheduler does
            due = [(j.wait_until, v) for v, j in self.journeys.items() if j.status == "waiting" and j.wait_until is not None and j.wait_until <= target]
            if not due:
                break
            at, visitor = min(due)
            self.journeys[visitor].run(self.graph, self.plans[visitor], at)
        for visitor, progress_id in sorted(self.progress.items()):  # a duplicate wake-up changes nothing
            self.call("series:processProgress", {"progressId": progress_id}, internal=True)

    @rule(visitor=st.integers(0, VISITORS - 1))
    def event(self, visitor: int) -> None:
        args = {"workspaceId": self.team.workspace_id, "visitorId": self.visitors[visitor], "eventName": EVENT}
        self.call("series:resumeWaitingForEvent", args, internal=True)
        journey = self.journeys.get(visitor)
        if journey is not None and journey.status == "waiting" and journey.wait_event == EVENT:
            journey.wait_event, journey.wait_until = None, self.now()
            journey.run(self.graph, self.plans[visitor], self.now())

    @invariant()
    def progress_matches_the_interpreter(self) -> None:
        if not hasattr(self, "series_id"):
            return
        for visitor, journey in self.journeys.items():
            stored = self.call("series:getProgress", {"seriesId": self.series_id, "visitorId": self.visitors[visitor]})
            expected_block = self.blocks[journey.block] if journey.block is not None else None
            assert (stored["status"], stored.get("currentBlockId")) == (journey.status, expected_block), (self.graph, stored, journey)
            completed = [entry["blockId"] for entry in stored["history"] if entry["action"] == "completed"]
            assert completed == [self.blocks[index] for index in journey.history], (self.graph, stored, journey)
            if journey.status == "waiting":
                assert (stored.get("waitUntil"), stored.get("waitEventName")) == (journey.wait_until, journey.wait_event)
        posted = self.loop.run_until_complete(self.backend.dump())["messages"]
        for visitor in range(VISITORS):
            journey = self.journeys.get(visitor, Journey(history=[]))
            expected = sorted({"chat": "hello", "post": "news"}[self.graph[index]["kind"]] for index in journey.history if self.graph[index]["kind"] in MESSAGES)
            found = sorted(m["content"] for m in posted if m["conversationId"] == self.conversations[visitor] and m["content"] in ("hello", "news"))
            assert found == expected, (self.graph, visitor, found, journey)


SeriesModel.TestCase.settings = settings(
    max_examples=12, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestSeriesModel = SeriesModel.TestCase
