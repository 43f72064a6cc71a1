"""Fuzzed client frames never crash the server, corrupt other connections or leak state.

Each example opens a connection, sends a few frames drawn from near-valid to garbage, then a
terminator that is always a protocol violation, and reads until the server closes the socket.
Whatever it answered must be well-formed (``SyncConnection`` checks version chaining as frames
arrive) and a ``FatalError`` must be the last thing said. Meanwhile a canary connection, running
on its own thread, stays subscribed; afterwards it must still see new writes, and the server must
hold no connection, subscription or queued frame beyond the canary's.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_fixtures import RunningServer, SyncConnection, add_query, modify, start_server

APP = Path(__file__).parent / "apps" / "sync"
MAX_FRAME = 1 << 16
SERVER_FRAMES = {"Transition", "MutationResponse", "ActionResponse", "AuthError", "FatalError", "Ping"}
TERMINATOR = {"type": "Authenticate", "baseVersion": 2**32 - 1, "tokenType": "None"}
T = TypeVar("T")

# --- what a client might send -----------------------------------------------------------------
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
numbers = st.one_of(st.integers(0, 3), st.integers(-3, 2**33), json_values)
paths = st.one_of(
    st.sampled_from(
        ["counters:get", "counters:bump", "messages:list", "calls:fails", "calls:echo", "calls.js:noisy", "nope", ""]
    ),
    st.text(max_size=10),
    json_values,
)
arguments = st.one_of(
    st.just([{}]),
    st.just([{"name": "fuzz"}]),
    st.just([{"channel": {"$integer": "AAAA"}}]),
    st.lists(json_values, max_size=2),
    json_values,
)


def frame(kind: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just(kind)}, optional=fields)


small = st.integers(0, 3)
known_paths = st.sampled_from(
    ["counters:get", "counters:bump", "messages:list", "calls:fails", "calls:echo", "calls.js:noisy"]
)
good_args = st.sampled_from(
    [[{}], [{"name": "fuzz"}], [{"channel": "fuzz"}], [{"value": {"$integer": "AQAAAAAAAAA="}}]]
)
# Well-formed frames that may still break the protocol's rules (versions, ids, unknown paths)...
well_formed = st.one_of(
    st.builds(
        lambda base, step, modifications: {
            "type": "ModifyQuerySet",
            "baseVersion": base,
            "newVersion": base + step,
            "modifications": modifications,
        },
        small,
        st.sampled_from([1, 1, 1, 0]),
        st.lists(
            st.one_of(
                st.builds(
                    lambda q, p, a: {"type": "Add", "queryId": q, "udfPath": p, "args": a, "journal": None},
                    small,
                    known_paths,
                    good_args,
                ),
                st.builds(lambda q: {"type": "Remove", "queryId": q}, small),
            ),
            max_size=3,
        ),
    ),
    st.builds(
        lambda r, p, a: {"type": "Mutation", "requestId": r, "udfPath": p, "args": a}, small, known_paths, good_args
    ),
    st.builds(
        lambda r, a: {"type": "Action", "requestId": r, "udfPath": "calls:echo", "args": [{"value": a}]}, small, leaves
    ),
    st.builds(lambda b: {"type": "Authenticate", "baseVersion": b, "tokenType": "None"}, st.integers(0, 1)),
    st.just({"type": "Event", "eventType": "ClientConnect", "event": {}}),
)
# ...and frames with any field of any type, or no frame shape at all.
adds = frame(
    "Add",
    queryId=numbers,
    udfPath=paths,
    args=arguments,
    journal=st.one_of(st.none(), st.text(max_size=8), json_values),
)
removes = frame("Remove", queryId=numbers)
malformed = st.one_of(
    frame(
        "Connect",
        sessionId=st.one_of(st.text(max_size=8), json_values),
        connectionCount=numbers,
        maxObservedTimestamp=st.one_of(st.just("AAAAAAAAAAA="), st.text(max_size=14), json_values),
        clientTs=numbers,
    ),
    frame(
        "ModifyQuerySet",
        baseVersion=numbers,
        newVersion=numbers,
        modifications=st.lists(st.one_of(adds, removes, json_values), max_size=4),
    ),
    frame("Mutation", requestId=numbers, udfPath=paths, args=arguments),
    frame("Action", requestId=numbers, udfPath=paths, args=arguments),
    frame(
        "Authenticate",
        baseVersion=numbers,
        tokenType=st.one_of(st.sampled_from(["None", "User", "Admin", "Bogus"]), json_values),
        value=st.one_of(st.text(max_size=8), json_values),
    ),
    frame("Event", eventType=st.text(max_size=8), event=json_values),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    json_values,
)
frames = st.one_of(well_formed, well_formed, well_formed, malformed)
messages = st.one_of(
    frames.map(lambda value: ("text", json.dumps(value))),
    st.text(max_size=30).map(lambda text: ("text", text)),
    st.binary(max_size=16).map(lambda raw: ("binary", raw)),
    st.just(("text", json.dumps({"type": "Event", "event": "x" * MAX_FRAME}))),  # over the frame limit
)
# A well-formed start (Connect, then an empty query set) most of the time, so later frames get past it.
openings = st.sampled_from(["connect", "connect+query", "none"])


# --- the canary, on its own event loop --------------------------------------------------------
class Canary:
    """A subscribed connection living on a background thread for the whole fuzz run."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.counter = f"canary-{uuid.uuid4().hex[:6]}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = AsyncExitStack()
        self.connection: SyncConnection = self.call(self._open())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _open(self) -> SyncConnection:
        connection = await self.stack.enter_async_context(SyncConnection.open(self.server))
        await connection.send(modify(0, add_query(0, "counters:get", {"name": self.counter})))
        await connection.settle(lambda c: 0 in c.results)
        return connection

    async def bump_and_watch(self, expected: float) -> None:
        async with self.connection.http.post(
            self.server.url + "/api/mutation", json={"path": "counters:bump", "args": {"name": self.counter}}
        ) as response:
            assert (await response.json())["status"] == "success"
        await self.connection.settle(lambda c: c.value(0) == expected)

    def close(self) -> None:
        self.call(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "OPENCOM_SYNC_MAX_MESSAGE_BYTES": str(MAX_FRAME),
        "OPENCOM_SYNC_MAX_QUERIES": "8",
        "OPENCOM_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    running = start_server(APP, tmp_path_factory.mktemp("fuzz") / "data", env=env)
    yield running
    assert running.stop() == 0, running.log()


async def exchange(server: RunningServer, opening: str, sent: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Send the frames, then the terminator; return every frame received until the server closed."""
    received: list[dict[str, Any]] = []
    async with SyncConnection.open(server, connect=opening != "none") as connection:
        if opening == "connect+query":
            await connection.send(modify(0, add_query(0, "counters:get", {"name": "fuzz"})))
        for kind, payload in [*sent, ("text", json.dumps(TERMINATOR))]:
            try:
                if kind == "binary":
                    await connection.socket.send_bytes(payload)
                else:
                    await connection.socket.send_str(payload)
            except (ConnectionError, RuntimeError):
                break  # already closed by the server
        while True:
            try:
                received.append(await connection.receive(timeout=10, pings=True))
            except ConnectionError:
                return received


def test_fuzzed_frames_never_hurt_the_server_or_other_connections(server: RunningServer) -> None:
    canary = Canary(server)
    try:

        @given(opening=openings, sent=st.lists(messages, min_size=1, max_size=5))
        @settings(
            max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
        )
        def one_exchange(opening: str, sent: list[tuple[str, Any]]) -> None:
            received = asyncio.run(exchange(server, opening, sent))
            assert all(frame["type"] in SERVER_FRAMES for frame in received), received
            fatal = [index for index, frame in enumerate(received) if frame["type"] == "FatalError"]
            assert fatal in ([], [len(received) - 1]), received
            assert server.process.poll() is None, server.log()

        one_exchange()
        canary.call(canary.bump_and_watch(1.0))
        canary.call(canary.bump_and_watch(2.0))

        async def settled_stats() -> dict[str, Any]:
            for _ in range(100):
                stats = await canary.connection.stats(server)
                if stats["connections"] == 1 and stats["subscriptions"] == 1:
                    return stats
                await asyncio.sleep(0.05)
            return stats

        stats = canary.call(settled_stats())
        assert (stats["connections"], stats["subscriptions"], stats["pendingFrames"]) == (1, 1, 0), stats
    finally:
        canary.close()
    assert "Traceback" not in server.log(), server.log()
