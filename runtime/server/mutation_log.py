"""Outcomes of recent WebSocket mutations by (session id, request id, caller), for idempotent replays.

After a reconnect the npm client resends every mutation no Transition has confirmed yet, under the
same session id, including ones that already ran (convex-protocol §6.5). Answering such a replay
from this log, instead of running the mutation again, makes every mutation run at most once per
request id. An entry is made when the mutation starts, so a replay that arrives while the first
run is still going waits for it. Only the newest ``knobs.SYNC_MUTATION_LOG_SIZE`` entries are kept.
A resend this log does not hold (another server ran it, or this one before a restart) is answered
from the store instead (``runtime.store.receipts``).

The caller's principal is part of the key: a connection authenticated as someone else that
presents another client's session and request ids runs its own mutation as a new request and
never receives the first caller's response (which may hold that caller's secrets).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from runtime import knobs
from runtime.functions.connection import Proof
from runtime.server.protocol import MutationResponse

Key = tuple[str, int, str]  # session id, request id, caller principal
Outcome = tuple[MutationResponse, tuple[Proof, ...]]  # the response and the connection proofs its commit added


class MutationLog:
    """A bounded map from (session id, request id, principal) to that mutation's outcome (see above)."""

    def __init__(self, capacity: int | None = None) -> None:
        self._capacity = capacity if capacity is not None else knobs.SYNC_MUTATION_LOG_SIZE
        self._entries: OrderedDict[Key, asyncio.Future[Outcome]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: Key) -> asyncio.Future[Outcome] | None:
        """None if the caller should run the mutation (and must ``record`` it); else the earlier outcome."""
        existing = self._entries.get(key)
        if existing is not None:
            self._entries.move_to_end(key)
            return existing
        self._entries[key] = asyncio.get_running_loop().create_future()
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return None

    def record(self, key: Key, outcome: Outcome) -> None:
        """The outcome of a mutation claimed with ``claim``."""
        entry = self._entries.get(key)
        if entry is not None and not entry.done():
            entry.set_result(outcome)

    def abandon(self, key: Key) -> None:
        """A claimed mutation that never ran (its connection went away first): a replay may run it."""
        entry = self._entries.pop(key, None)
        if entry is not None and not entry.done():
            entry.cancel()
