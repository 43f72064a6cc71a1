"""Live queries shared by every connection: run once per invalidation, matched by interval index.

A subscription is one distinct (function, arguments, identity, admin) — plus the journal for a
function known to paginate, the only kind a journal changes (``subscription_key``). However many
connections watch it, however many times, it runs once when created and once after each commit
that touches its read set; connections then receive its result only if it differs from what they
last got.

Fair scheduling: stale subscriptions run in rounds. A round takes them one at a time from each
connection in turn (a subscription counts for the first connection that watches it), skips a
connection once it has used ``knobs.SYNC_CONNECTION_ROUND_TIME_S`` of execution, and ends after
``knobs.SYNC_ROUND_TIME_S``; what is left runs in a later round, after the event loop has served
other clients. A connection waiting for its queries simply gets its Transition later.

Timestamps, and why every Transition is consistent:

- ``self.ts`` is the highest commit timestamp whose writes have been matched against every read
  set. A subscription that is not ``stale`` has a result valid at ``self.ts``: it was computed at
  some earlier ts and no commit since then touched what it read.
- Commits are matched in the database's commit listener, and the invalidated subscriptions are
  re-run right there, inside one snapshot. While a listener runs no other commit can be in flight
  (there is one writer), so that snapshot's ts is exactly the last matched commit.
- Work requested outside a commit (a new query, an answered mutation) runs in a soon-callback; if
  its snapshot turns out newer than ``self.ts``, a commit is durable but not yet matched, so the
  work waits for that commit's listener instead of mixing timestamps.
- Transitions are handed to connections in a soon-callback scheduled by the listener. The
  database resolves each mutation's future before calling its listeners, so the connections whose
  mutations just committed have already queued their ``MutationResponse`` when the Transition that
  covers its ts is queued behind it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from msgspec import UNSET, Raw, UnsetType

from runtime import knobs
from runtime.app_loader import App, canonical_path
from runtime.connection import Connection
from runtime.errors import ArgumentValidationError, ConvexValueError, FunctionNotFoundError
from runtime.executor import Executor, FunctionResult
from runtime.functions import FunctionDefinition
from runtime.read_set import Commit, SearchRead
from runtime.server.authenticator import Caller
from runtime.server.events import EventBus, event_for
from runtime.server.failures import Failure, describe, next_request_id
from runtime.server.interval_index import IntervalIndex, Registration
from runtime.server.protocol import QueryFailed, QueryUpdated, function_args
from runtime.values import Value, to_json

logger = logging.getLogger("opencom.server")


class Watcher(Protocol):
    """A connection watching subscriptions (``SyncSession``)."""

    def deliver(self, ts: int) -> bool:
        """Queue a Transition to ``ts`` if one is due; False if its queries are not all ready yet."""
        ...


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One outcome of a subscription, with a fingerprint of everything a client would see."""

    fingerprint: bytes
    value: Raw | None  # its size is what a connection holding this result is charged
    failure_message: str | None
    error_data: Raw | UnsetType
    log_lines: list[str]
    journal: str | None

    def modification(self, query_id: int) -> QueryUpdated | QueryFailed:
        if self.failure_message is None:
            assert self.value is not None
            return QueryUpdated(query_id, self.value, self.log_lines, self.journal)
        return QueryFailed(query_id, self.failure_message, self.log_lines, self.journal, self.error_data)


def _success(value: Value, log_lines: list[str], journal: str | None) -> QueryResult:
    raw = Raw(msgspec.json.encode(to_json(value)))
    fingerprint = msgspec.json.encode(["ok", raw, log_lines, journal])
    return QueryResult(fingerprint, raw, None, UNSET, log_lines, journal)


def _failure(failure: Failure, log_lines: list[str]) -> QueryResult:
    # The request id changes on every run, so it stays out of the fingerprint.
    data = failure.data if failure.data is not UNSET else None
    fingerprint = msgspec.json.encode(["error", failure.detail, failure.data is not UNSET, data, log_lines])
    return QueryResult(fingerprint, None, failure.message(next_request_id()), failure.data, log_lines, None)


class Subscription:
    """One distinct live query; see the module docstring for what ``stale`` and ``result_ts`` mean."""

    __slots__ = (
        "key",
        "path",
        "function",
        "args",
        "caller",
        "connection",
        "journal",
        "result",
        "result_ts",
        "stale",
        "registration",
        "searches",
        "watchers",
    )

    def __init__(
        self, key: tuple[Any, ...], path: str, caller: Caller, connection: Connection, journal: str | None
    ) -> None:
        self.key = key
        self.path = path
        self.function: FunctionDefinition | None = None  # None: the failure in ``result`` is final
        self.args: dict[str, Value] = {}
        self.caller = caller
        self.connection = Connection(connection.key)  # the proofs only: queries never see an address
        self.journal = journal  # handed to the next run: the journal of the last successful run
        self.result: QueryResult | None = None
        self.result_ts = 0  # snapshot ts of the last run; the result holds until a commit touches it
        self.stale = True
        self.registration: Registration[Subscription] | None = None
        self.searches: list[SearchRead] = []  # text-search reads of the last run
        self.watchers: Counter[Watcher] = Counter()


def _identity_key(caller: Caller) -> str:
    return json.dumps(caller.identity, sort_keys=True, default=repr)


def subscription_key(
    path: str, args: list[Any], caller: Caller, connection: Connection, journal: str | None
) -> tuple[Any, ...]:
    """What makes two live queries one: the same function, arguments, identity, connection proofs and journal.

    The connection's proofs (``runtime.connection``) are part of it because a query may answer
    differently on a connection that proved a secret; connections that proved nothing share.
    Pass ``journal`` None unless the function paginates: for any other function it changes nothing.
    """
    args_key = msgspec.json.encode(args, order="sorted")
    return (path, args_key, _identity_key(caller), caller.admin, connection.key, journal)


class SubscriptionManager:
    """Owns every live subscription of one server (see the module docstring)."""

    def __init__(self, executor: Executor, events: EventBus) -> None:
        self.executor = executor
        self.database = executor.database
        self.events = events
        self.ts = self.database.last_ts
        self.query_executions = 0
        self.executions_by_path: Counter[str] = Counter()
        self._subscriptions: dict[tuple[Any, ...], Subscription] = {}
        self._index: IntervalIndex[Subscription] = IntervalIndex()
        self._searches: dict[int, set[Subscription]] = {}  # table number → subscriptions that searched it
        self._stale: set[Subscription] = set()
        self._pending: set[Watcher] = set()
        self._known_tables = set(self.database.catalog.table_names)
        self._flush_scheduled = False
        self._delivery_scheduled = False
        self._paginating: set[str] = set()  # paths whose runs paginated: only their journals matter
        self._turn = 0  # which connection a round starts with, so no connection always goes first
        self.database.add_commit_listener(self._on_commit)
        executor.add_reload_listener(self._on_reload)

    # --- what connections call ----------------------------------------------------------------
    def subscribe(
        self,
        watcher: Watcher,
        udf_path: str,
        args: list[Any],
        journal: str | None,
        caller: Caller,
        connection: Connection,
    ) -> Subscription:
        """The subscription for this query (created if new), now watched by ``watcher`` once more."""
        try:
            path = canonical_path(udf_path)
        except FunctionNotFoundError:
            path = udf_path
        key = subscription_key(path, args, caller, connection, journal if path in self._paginating else None)
        subscription = self._subscriptions.get(key)
        if subscription is None:
            subscription = Subscription(key, path, caller, connection, journal)
            self._subscriptions[key] = subscription
            self._prepare(subscription, udf_path, args)
        subscription.watchers[watcher] += 1
        return subscription

    def unsubscribe(self, subscription: Subscription, watcher: Watcher) -> None:
        """``watcher`` watches ``subscription`` once less; the last one out drops it."""
        subscription.watchers[watcher] -= 1
        if subscription.watchers[watcher] <= 0:
            del subscription.watchers[watcher]
        if not subscription.watchers:
            self._drop(subscription)

    def request_transition(self, watcher: Watcher) -> None:
        """Ask for ``watcher.deliver`` once every query it watches has a result at the newest ts."""
        self._pending.add(watcher)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def forget(self, watcher: Watcher) -> None:
        """A closed connection: no more deliveries to it."""
        self._pending.discard(watcher)

    def stats(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "subscriptions": len(self._subscriptions),
            "staleSubscriptions": len(self._stale),
            "intervals": len(self._index),
            "queryExecutions": self.query_executions,
            "queryExecutionsByPath": dict(self.executions_by_path),
        }

    # --- subscription lifecycle ---------------------------------------------------------------
    def _prepare(self, subscription: Subscription, udf_path: str, args: list[Any]) -> None:
        caller = subscription.caller
        try:
            subscription.function = self.executor.app.lookup(udf_path, kind="query", allow_internal=caller.admin)
            subscription.args = function_args(args)
        except (FunctionNotFoundError, ConvexValueError, ArgumentValidationError) as error:
            subscription.function = None
            subscription.result = _failure(describe(error), [])
            subscription.stale = False
            self._stale.discard(subscription)
            return
        self._stale.add(subscription)

    def _on_reload(self, app: App) -> None:
        """New code (``opencom dev``): look every query up again and re-run them all with it."""
        self._known_tables = set(self.database.catalog.table_names)
        for subscription in self._subscriptions.values():
            self._unregister(subscription)
            subscription.stale = True
            # The key keeps the arguments as the client sent them (a function missing before may exist now).
            self._prepare(subscription, subscription.path, msgspec.json.decode(subscription.key[1]))
            if subscription.function is None:
                self._pending.update(subscription.watchers)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _drop(self, subscription: Subscription) -> None:
        del self._subscriptions[subscription.key]
        self._stale.discard(subscription)
        self._unregister(subscription)

    def _unregister(self, subscription: Subscription) -> None:
        if subscription.registration is not None:
            self._index.remove(subscription.registration)
            subscription.registration = None
        for table in {search.table_number for search in subscription.searches}:
            watching = self._searches[table]
            watching.discard(subscription)
            if not watching:
                del self._searches[table]
        subscription.searches = []

    def _run(self, subscription: Subscription, ts: int) -> None:
        function = subscription.function
        assert function is not None
        caller = subscription.caller
        started = time.perf_counter()
        try:
            outcome = self.executor.run_query(
                function,
                subscription.args,
                identity=caller.identity,
                journal=subscription.journal,
                connection=subscription.connection,
            )
        except Exception as error:  # noqa: BLE001 - a runtime bug must not take the listener down
            logger.exception("query %s failed inside the runtime", subscription.path)
            outcome = FunctionResult(error=error)
        self.query_executions += 1
        self.executions_by_path[subscription.path] += 1
        self.events.publish(event_for(subscription.path, "query", started, outcome))
        self._unregister(subscription)
        if outcome.read_set is not None:
            subscription.registration = self._index.add(subscription, outcome.read_set.intervals)
            subscription.searches = list(outcome.read_set.searches)
            for table in {search.table_number for search in subscription.searches}:
                self._searches.setdefault(table, set()).add(subscription)
        if outcome.journal is not None:
            self._paginating.add(subscription.path)
        if outcome.error is None:
            subscription.journal = outcome.journal
            result = _success(outcome.value, outcome.log_lines, outcome.journal)
        else:
            result = _failure(describe(outcome.error), outcome.log_lines)
        subscription.result_ts = ts
        subscription.stale = False
        previous = subscription.result
        if previous is None or previous.fingerprint != result.fingerprint:
            subscription.result = result
            self._pending.update(subscription.watchers)

    # --- commits and deliveries ---------------------------------------------------------------
    def _on_commit(self, commits: list[Commit]) -> None:
        try:
            for commit in commits:
                self._match(commit)
                self.ts = max(self.ts, commit.ts)
            self._compute(exact=True)
            self._schedule_flush_if_stale()
            if self._pending and not self._delivery_scheduled:
                self._delivery_scheduled = True
                asyncio.get_running_loop().call_soon(self._deliver)
        except Exception:  # noqa: BLE001 - the writer calling us must keep going
            logger.exception("matching a commit against subscriptions failed")

    def _match(self, commit: Commit) -> None:
        for write in commit.writes:
            if write.table_number not in self._known_tables:
                # Queries of a missing table record no read; the table's creation touches them all.
                self._known_tables.add(write.table_number)
                for subscription in self._subscriptions.values():
                    self._invalidate(subscription, commit.ts)
            for index_id, key in write.keys:
                for subscription in self._index.owners_at(index_id, key):
                    self._invalidate(subscription, commit.ts)
            for subscription in self._searches.get(write.table_number, ()):
                if any(self.database.search_indexes.write_overlaps(search, write) for search in subscription.searches):
                    self._invalidate(subscription, commit.ts)

    def _invalidate(self, subscription: Subscription, commit_ts: int) -> None:
        if subscription.function is not None and subscription.result_ts < commit_ts:
            subscription.stale = True
            self._stale.add(subscription)

    def _compute(self, *, exact: bool) -> bool:
        """Run one fair round of stale subscriptions at ``self.ts``; False if the snapshot is past it.

        Subscriptions left stale when the round's time is up run in a later round (``_flush``).
        """
        if not self._stale:
            return True
        with self.database.snapshot() as ts:
            if ts != self.ts:
                if not exact:
                    return False
                self.ts = ts
            self._run_round(ts)
        return True

    def _run_round(self, ts: int) -> None:
        # Every live subscription has a watcher (the last one out drops it); None only guards the type.
        queues: dict[Watcher | None, list[Subscription]] = {}
        for subscription in self._stale:
            queues.setdefault(next(iter(subscription.watchers), None), []).append(subscription)
        owners = list(queues)
        self._turn = (self._turn + 1) % len(owners)
        owners = owners[self._turn :] + owners[: self._turn]
        used: dict[Watcher | None, float] = dict.fromkeys(owners, 0.0)
        round_started = time.perf_counter()
        while owners:
            for owner in list(owners):
                started = time.perf_counter()
                subscription = queues[owner].pop()
                self._stale.discard(subscription)
                self._run(subscription, ts)
                used[owner] += time.perf_counter() - started
                if not queues[owner] or used[owner] >= knobs.SYNC_CONNECTION_ROUND_TIME_S:
                    owners.remove(owner)
                if time.perf_counter() - round_started >= knobs.SYNC_ROUND_TIME_S:
                    return

    def _schedule_flush_if_stale(self) -> None:
        if self._stale and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        try:
            if self._compute(exact=False):
                self._deliver()
                self._schedule_flush_if_stale()
        except Exception:  # noqa: BLE001 - a soon-callback has nobody to report to
            logger.exception("refreshing subscriptions failed")

    def _deliver(self) -> None:
        self._delivery_scheduled = False
        for watcher in list(self._pending):
            if watcher.deliver(self.ts):
                self._pending.discard(watcher)
