"""Live queries shared by every connection: run once per invalidation, matched by interval index.

A subscription is one distinct (function, arguments, identity, admin) — plus the journal for a
function known to paginate, the only kind a journal changes (``subscription_key``). However many
connections watch it, however many times, it runs once when created and once after each commit
that touches its read set; connections then receive its result only if it differs from what they
last got. When the last connection leaves, a result that still holds is retained (bounded, see
``unsubscribe``) with its read set still indexed, and the first commit that touches it drops it: a
client that subscribes again meanwhile (a reconnect storm) is served it without a run.

Fair scheduling: a re-run phase (below) takes the stale subscriptions one at a time from each
connection in turn (a subscription counts for the first connection that watches it), starting
with a different connection each phase, and the event loop serves everyone between its steps.
A connection with many or slow queries delays its own Transition, not other connections': theirs
go out as soon as their own queries have run.

Timestamps, and why every Transition is consistent:

- ``self.ts`` is the highest commit timestamp whose writes have been matched against every read
  set. A subscription that is not ``stale`` has a result valid at ``self.ts``: it was computed at
  some earlier ts and no commit since then touched what it read.
- The database's commit listener only matches each commit group (cheap) and marks what it touched
  stale, with ``needs_ts``: the oldest snapshot a re-run must read to count. Mutation responses are
  therefore not held back by re-runs: their futures are resolved before the listener runs.
- Re-runs happen in phases, off the commit path. A phase opens a snapshot held across loop turns
  (``Database.open_snapshot``), only when that snapshot is exactly ``self.ts`` (otherwise a commit
  is durable but not matched yet, and its listener starts the phase). It then runs the stale
  subscriptions a few milliseconds per loop turn, so the writer keeps committing in between: one
  run per subscription per phase however many commits touched it. The next phase starts no
  sooner than the last one took, so re-runs never take more than half the loop from the commits
  and requests of everyone else, and a busy server coalesces more commits into each phase. A run
  whose subscription was touched again by a commit after the phase's snapshot stays stale for the
  next phase, and so does
  one created after the phase began (its ``needs_ts`` is ``self.ts`` when it was created).
- A run that uses more than ``knobs.LOOP_CPU_BUDGET_S`` of the loop's CPU is stopped and moved to
  a worker thread (``_move``, ``runtime.database.off_loop``), and later runs of that subscription start
  there: the phase goes on without it, and a runaway query ends with Convex's time-out error while
  everyone else is served. A worker reads its own latest snapshot, not the phase's; when its result
  lands (``_land``) it is kept from that snapshot's ts and checked against the write sets of the
  commits matched since (the database's ``RecentCommits``, held from ``self.ts`` when the run was
  sent): one that wrote into the new read set ends its validity there, exactly as if it had been
  matched after the run. A commit that creates a table touches every query of it, read or not: it
  drops every run elsewhere, which then runs again.
- With worker processes (``knobs.RERUN_PROCESSES``, ``rerun_processes``), once one has started
  no phase runs on the loop: the stale subscriptions go to the processes in batches, a connection's together, each batch read
  in one snapshot, and land as a worker thread's results do. The loop only matches commits, keeps
  results and delivers. A run past ``knobs.RERUN_PROCESS_BUDGET_S`` in a process is stopped there
  and moved to a worker thread, so a runaway query cannot hold a process either.
- A result holds from its run's snapshot (``result_ts``) until the first commit that touched it
  (``valid_until``). Deliveries follow every step: a connection gets a Transition at one ts where
  all its results hold: ``self.ts`` if none is stale, else the last finished phase's snapshot or
  the last landed result's (so a query touched by every commit still reaches its watchers once per
  round). Never older than
  what the connection was last shown or than a mutation answered to it (``SyncSession.deliver``),
  so a ``MutationResponse`` is followed by a Transition that shows its writes.
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
from runtime.database.database import Snapshot
from runtime.database.read_set import Commit, ReadSet, SearchRead
from runtime.database.recent_commits import Hold
from runtime.functions.app_loader import App
from runtime.functions.connection import Connection
from runtime.functions.definitions import FunctionDefinition
from runtime.functions.executor import Executor, FunctionResult
from runtime.functions.failures import Failure, describe, next_request_id
from runtime.functions.paths import canonical_path
from runtime.server import wire_json
from runtime.server.authenticator import Caller
from runtime.server.events import EventBus, FunctionEvent, event_for
from runtime.server.interval_index import IntervalIndex, Registration
from runtime.server.protocol import QueryFailed, QueryUpdated, function_args
from runtime.server.rerun_processes import RerunBatch, RerunOutcome, RerunProcesses, RerunRequest
from runtime.time_limit import LoopBudgetSpent
from runtime.values.errors import ArgumentValidationError, ConvexValueError, FunctionNotFoundError
from runtime.values.values import Value

logger = logging.getLogger("opencom.server")


DELIVERY_CANDIDATES = 4
"""Timestamps besides the newest a delivery tries for a connection whose results do not all hold there."""

Fingerprint = tuple[bytes, bytes, tuple[str, ...], str | None]
"""Everything a client would see of a result (kind, encoded value or error, log lines, journal)."""


class Watcher(Protocol):
    """A connection watching subscriptions (``SyncSession``)."""

    def deliver(self, ts: int) -> bool:
        """Queue a Transition to ``ts`` if one is due; False if its queries are not all ready yet."""
        ...


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One outcome of a subscription, with a fingerprint of everything a client would see."""

    fingerprint: Fingerprint
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
    return _encoded_success(wire_json.encode(value), log_lines, journal)


def _encoded_success(encoded: bytes, log_lines: list[str], journal: str | None) -> QueryResult:
    # The fingerprint holds the encoded bytes themselves (compared, never copied).
    fingerprint = (b"ok", encoded, tuple(log_lines), journal)
    return QueryResult(fingerprint, Raw(encoded), None, UNSET, log_lines, journal)


def _failure(failure: Failure, log_lines: list[str]) -> QueryResult:
    # The request id changes on every run, so it stays out of the fingerprint.
    data = failure.data if failure.data is not UNSET else None
    detail = msgspec.json.encode([failure.detail, failure.data is not UNSET, data])
    fingerprint = (b"error", detail, tuple(log_lines), None)
    return QueryResult(fingerprint, None, failure.message(next_request_id()), failure.data, log_lines, None)


class Subscription:
    """One distinct live query; see the module docstring for what its timestamps mean."""

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
        "valid_until",
        "registration",
        "needs_ts",
        "searches",
        "watchers",
        "slow",
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
        # The first commit ts at which ``result`` no longer holds; None while it still holds.
        self.valid_until: int | None = 0
        # The oldest snapshot a run must read to be current: every commit that touched it.
        self.needs_ts = 0
        self.registration: Registration[Subscription] | None = None
        self.searches: list[SearchRead] = []  # text-search reads of the last run
        self.watchers: Counter[Watcher] = Counter()
        self.slow = False  # its last run went past the loop's CPU budget: the next runs start on a worker

    @property
    def stale(self) -> bool:
        """Whether a commit since its last run touched it (or it never ran): it must run again."""
        return self.valid_until is not None

    def valid_at(self, ts: int) -> bool:
        """Whether ``result`` is what the query returns at commit ``ts``."""
        return self.result is not None and self.result_ts <= ts and (self.valid_until is None or ts < self.valid_until)


def _identity_key(caller: Caller) -> str:
    if caller.identity is None:
        return "null"  # most live queries are anonymous (the widget's): no need to encode it
    return json.dumps(caller.identity, sort_keys=True, default=repr)


def subscription_key(
    path: str, args: list[Any], caller: Caller, connection: Connection, journal: str | None
) -> tuple[Any, ...]:
    """What makes two live queries one: the same function, arguments, identity, connection proofs and journal.

    The connection's proofs (``runtime.functions.connection``) are part of it because a query may answer
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
        self.process_batches = 0  # batches of re-runs worker processes brought back
        self.executions_by_path: Counter[str] = Counter()
        self._subscriptions: dict[tuple[Any, ...], Subscription] = {}
        self._index: IntervalIndex[Subscription] = IntervalIndex()
        self._searches: dict[int, set[Subscription]] = {}  # table number → subscriptions that searched it
        self._stale: set[Subscription] = set()
        self._pending: set[Watcher] = set()  # connections owed a Transition
        # The pending connections to try at the next delivery: those whose subscriptions changed
        # since their last try, or all of them once the candidate timestamps moved (``_deliver``).
        self._dirty: set[Watcher] = set()
        # Results no connection watches any more, oldest first: a reconnecting client is served
        # from them without a run while no commit touched them (``unsubscribe``).
        self._retained: dict[Subscription, int] = {}  # each with the bytes of its result
        self._retained_bytes = 0
        self._dropping: list[Subscription] = []  # retained results a commit touched: dropped after matching
        self._known_tables = set(self.database.catalog.table_names)
        self._flush_scheduled = False
        self._phase: Snapshot | None = None  # the snapshot of the re-run phase under way
        self._phase_ts = 0  # the snapshot ts of the last phase completed
        self._phase_started = 0.0
        self._next_phase_at = 0.0  # loop time before which no new phase starts
        self._phase_timer: asyncio.TimerHandle | None = None
        self._queue: list[Subscription] = []  # what the phase still has to run
        self._joining: list[Subscription] = []  # created during the phase, at its snapshot's ts
        self._paginating: set[str] = set()  # paths whose runs paginated: only their journals matter
        self._turn = 0  # which connection a phase starts with, so no connection always goes first
        # Runs under way on a worker (``_move``, ``_send``): each subscription's token, to know its
        # result is still wanted, and its hold on the commits after ``self.ts`` when it was sent (its
        # snapshot is no older): a landing result is checked against those its snapshot did not see.
        self._elsewhere: dict[Subscription, object] = {}
        self._holds: dict[Subscription, Hold] = {}
        self._landed: set[int] = set()  # snapshot ts of the results workers brought back since the last delivery
        # Worker processes for re-runs (``rerun_processes``): started with the first re-run, off for
        # good once they fail (re-runs then stay on the loop), replaced when the code changes.
        self._processes: RerunProcesses | None = None
        self._processes_off = knobs.RERUN_PROCESSES <= 0
        self._batches_in_flight = 0
        self._batch_tokens: set[object] = set()  # ``_elsewhere`` tokens of the batches sent to them
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
        elif not subscription.watchers:
            self._retained_bytes -= self._retained.pop(subscription, 0)
        subscription.watchers[watcher] += 1
        return subscription

    def unsubscribe(self, subscription: Subscription, watcher: Watcher) -> None:
        """``watcher`` watches ``subscription`` once less; the last one out retains or drops it.

        A result that still holds is retained, up to ``knobs.SYNC_RETAINED_QUERIES`` of them and
        ``knobs.SYNC_RETAINED_BYTES`` of results (the oldest go first), its read set still indexed:
        the first commit that touches it drops it, so one still retained when a client subscribes
        again (a reconnecting widget) is that query's result at ``self.ts`` and goes out without a
        run, as Convex serves it from its query cache. Anything else is dropped at once.
        """
        subscription.watchers[watcher] -= 1
        if subscription.watchers[watcher] <= 0:
            del subscription.watchers[watcher]
        if subscription.watchers:
            return
        if subscription.stale or subscription.function is None or knobs.SYNC_RETAINED_QUERIES <= 0:
            self._drop(subscription)
            return
        size = len(subscription.result.value) if subscription.result and subscription.result.value is not None else 0
        self._retained[subscription] = size
        self._retained_bytes += size
        while len(self._retained) > knobs.SYNC_RETAINED_QUERIES or self._retained_bytes > knobs.SYNC_RETAINED_BYTES:
            self._drop(next(iter(self._retained)))

    def request_transition(self, watcher: Watcher) -> None:
        """Ask for ``watcher.deliver`` once every query it watches has a result at the newest ts."""
        self._pending.add(watcher)
        self._dirty.add(watcher)
        self._schedule_flush()

    def forget(self, watcher: Watcher) -> None:
        """A closed connection: no more deliveries to it."""
        self._pending.discard(watcher)
        self._dirty.discard(watcher)

    def close(self) -> None:
        """Stop the worker processes (the server is shutting down)."""
        self._stop_processes()
        self._processes_off = True

    def stats(self) -> dict[str, Any]:
        return {
            "rerunProcesses": self._processes.count if self._processes is not None and self._processes.ready else 0,
            "rerunProcessBatches": self.process_batches,
            "commitsKeptForWorkers": len(self.database.recent_commits),
            "ts": self.ts,
            "subscriptions": len(self._subscriptions) - len(self._retained),
            "retainedQueries": len(self._retained),
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
            subscription.result_ts, subscription.valid_until = 0, None  # final: the same at every ts
            self._stale.discard(subscription)
            return
        # Its first run must not miss a commit matched before it had a read set.
        subscription.needs_ts = self.ts
        self._abandon_move(subscription)  # a run under way uses code that is no longer served
        subscription.valid_until = subscription.result_ts  # any result it has is from older code
        self._stale.add(subscription)
        if self._phase is not None and subscription.needs_ts <= self._phase.ts:
            self._joining.append(subscription)  # no commit since the phase began: it can run in it

    def _on_reload(self, app: App) -> None:
        """New code (``opencom dev``): look every query up again and re-run them all with it."""
        self._known_tables = set(self.database.catalog.table_names)
        self._stop_processes()  # they run the old code; new ones start with the next re-run
        for subscription in list(self._retained):
            self._drop(subscription)
        for subscription in self._subscriptions.values():
            self._unregister(subscription)
            # The key keeps the arguments as the client sent them (a function missing before may exist now).
            self._prepare(subscription, subscription.path, msgspec.json.decode(subscription.key[1]))
            if subscription.function is None:
                self._pending.update(subscription.watchers)
        self._dirty.update(self._pending)
        self._schedule_flush()

    def _drop(self, subscription: Subscription) -> None:
        self._retained_bytes -= self._retained.pop(subscription, 0)
        del self._subscriptions[subscription.key]
        self._stale.discard(subscription)
        self._abandon_move(subscription)
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
        """Run ``subscription`` on the loop at the phase's snapshot ``ts``, or move it past the CPU budget."""
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
                budget=knobs.LOOP_CPU_BUDGET_S,
            )
        except LoopBudgetSpent:
            subscription.slow = True
            self._move(subscription, started)
            return
        except Exception as error:  # noqa: BLE001 - a runtime bug must not take the listener down
            logger.exception("query %s failed inside the runtime", subscription.path)
            outcome = FunctionResult(error=error)
        self._record(subscription, outcome, started)
        subscription.result_ts = ts
        if subscription.needs_ts > ts:
            # A commit after this snapshot touched it already: the result holds at ``ts`` only
            # (enough for this phase's Transitions), and the next phase runs it again.
            subscription.valid_until = ts + 1
        else:
            subscription.valid_until = None
            self._stale.discard(subscription)

    def _move(self, subscription: Subscription, started: float) -> None:
        """Run ``subscription`` on a worker thread (``runtime.database.off_loop``) while the loop serves everyone else.

        The worker reads its own latest snapshot, not the phase's; ``_land`` brings the result to
        the commits matched since. Until then the subscription stays stale and no phase runs it.
        """
        function = subscription.function
        assert function is not None
        token = object()
        self._send_away(subscription, token)
        identity, journal, connection = subscription.caller.identity, subscription.journal, subscription.connection

        def on_worker() -> tuple[FunctionResult, float]:
            """The outcome, and the CPU time it took: what says whether the next run starts on the loop."""
            began = time.thread_time()
            outcome = self.executor.run_query_at_latest(function, subscription.args, identity, journal, connection)
            return outcome, time.thread_time() - began

        async def moved() -> None:
            try:
                outcome, cpu = await self.executor.workers.run(on_worker)
            except Exception as error:  # noqa: BLE001 - a runtime bug must not lose the subscription
                logger.exception("query %s failed inside the runtime", subscription.path)
                outcome, cpu = FunctionResult(error=error, ts=self.ts), 0.0
            if self._elsewhere.get(subscription) is token:  # else dropped, or new code since: not wanted
                # Where its next run starts: a process's budget if it has processes, else the loop's.
                budget = knobs.LOOP_CPU_BUDGET_S if self._processes_off else knobs.RERUN_PROCESS_BUDGET_S
                subscription.slow = cpu > budget
                self._record(subscription, outcome, started)
                self._land(subscription, outcome.ts if outcome.ts is not None else self.ts, outcome.read_set)

        asyncio.get_running_loop().create_task(moved(), name="opencom-moved-rerun")

    def _send_away(self, subscription: Subscription, token: object) -> None:
        """``subscription`` runs on a worker now; only a result that comes back with ``token`` is kept."""
        self._elsewhere[subscription] = token
        self._holds[subscription] = self.database.recent_commits.hold(self.ts)

    def _abandon_move(self, subscription: Subscription) -> None:
        """Whatever a worker is running for ``subscription`` will be dropped when it comes back."""
        if self._elsewhere.pop(subscription, None) is not None:
            self._holds.pop(subscription).release()

    def _land(self, subscription: Subscription, ts: int, read_set: ReadSet | None) -> None:
        """A worker's result (kept already), read at ``ts``: it holds until the first later commit touching it."""
        # Only the first and the last commit touching it matter, so each is sought from its end: a
        # result that every commit touches (an inbox every message moves) costs two checks, not one per commit.
        recent = list(self.database.recent_commits.between(ts, self.ts))
        first = next((commit.ts for commit in recent if self._touches(commit, read_set)), None)
        self._abandon_move(subscription)
        subscription.result_ts = ts
        if first is not None:
            last = next(commit.ts for commit in reversed(recent) if self._touches(commit, read_set))
            subscription.valid_until, subscription.needs_ts = first, last
            self._stale.add(subscription)
        else:
            subscription.valid_until = None
            self._stale.discard(subscription)
        self._landed.add(ts)
        self._pending.update(subscription.watchers)
        self._dirty.update(subscription.watchers)
        self._schedule_flush()

    def _touches(self, commit: Commit, read_set: ReadSet | None) -> bool:
        """Whether ``commit`` wrote into ``read_set`` (a result with no read set is touched by nothing)."""
        if read_set is None:
            return False
        if commit.touches(read_set):
            return True
        overlaps = self.database.search_indexes.write_overlaps
        return any(
            overlaps(search, write)
            for search in read_set.searches
            for write in commit.writes
            if write.table_number == search.table_number
        )

    def _record(self, subscription: Subscription, outcome: FunctionResult, started: float) -> None:
        """Keep a run's outcome: its read set in the index, its result for the watchers if it changed."""
        self.events.publish(event_for(subscription.path, "query", started, outcome))
        if outcome.error is None:
            result = _success(outcome.value, outcome.log_lines, outcome.journal)
        else:
            result = _failure(describe(outcome.error), outcome.log_lines)
        self._keep(subscription, result, outcome.read_set, outcome.journal)

    def _record_remote(self, subscription: Subscription, outcome: RerunOutcome) -> None:
        """``_record`` for an outcome a worker process encoded (``rerun_processes``)."""
        if outcome.encoded is not None:
            result = _encoded_success(outcome.encoded, outcome.log_lines, outcome.journal)
        else:
            assert outcome.failure_detail is not None
            data = Raw(outcome.failure_data) if outcome.failure_data is not None else UNSET
            result = _failure(Failure(outcome.failure_detail, data), outcome.log_lines)
        self.events.publish(
            FunctionEvent(
                path=subscription.path,
                kind="query",
                duration_ms=outcome.cpu_s * 1000.0,
                success=outcome.encoded is not None,
                log_lines=list(outcome.log_lines),
                error=outcome.failure_detail,
                timestamp_ms=time.time() * 1000.0,
            )
        )
        self._keep(subscription, result, outcome.read_set, outcome.journal)

    def _keep(self, subscription: Subscription, result: QueryResult, read_set: ReadSet | None, journal: str | None) -> None:
        self.query_executions += 1
        self.executions_by_path[subscription.path] += 1
        self._unregister(subscription)
        if read_set is not None:
            subscription.registration = self._index.add(subscription, read_set.intervals)
            subscription.searches = list(read_set.searches)
            for table in {search.table_number for search in subscription.searches}:
                self._searches.setdefault(table, set()).add(subscription)
        if journal is not None:
            self._paginating.add(subscription.path)
        if result.failure_message is None:
            subscription.journal = journal
        previous = subscription.result
        if previous is None or previous.fingerprint != result.fingerprint:
            subscription.result = result
            self._pending.update(subscription.watchers)
        # Its result holds from a new ts on (set by the caller, before the next delivery).
        self._dirty.update(subscription.watchers)

    # --- commits and deliveries ---------------------------------------------------------------
    def _on_commit(self, commits: list[Commit]) -> None:
        """Match a durable commit group against the read sets; re-running is left to a later phase."""
        try:
            for commit in commits:
                self._match(commit)
                self.ts = max(self.ts, commit.ts)
            for subscription in self._dropping:
                if self._subscriptions.get(subscription.key) is subscription and not subscription.watchers:
                    self._drop(subscription)
            self._dropping.clear()
            self._dirty.update(self._pending)  # a newer ts to try
            self._schedule_flush()
        except Exception:  # noqa: BLE001 - the writer calling us must keep going
            logger.exception("matching a commit against subscriptions failed")

    def _match(self, commit: Commit) -> None:
        for write in commit.writes:
            if write.table_number not in self._known_tables:
                # Queries of a missing table record no read; the table's creation touches them all,
                # and a run elsewhere may have read from before it (``_land`` could not tell).
                self._known_tables.add(write.table_number)
                for subscription in self._subscriptions.values():
                    self._invalidate(subscription, commit.ts)
                    self._abandon_move(subscription)
            for index_id, key in write.keys:
                for subscription in self._index.owners_at(index_id, key):
                    self._invalidate(subscription, commit.ts)
            for subscription in self._searches.get(write.table_number, ()):
                if any(self.database.search_indexes.write_overlaps(search, write) for search in subscription.searches):
                    self._invalidate(subscription, commit.ts)

    def _invalidate(self, subscription: Subscription, commit_ts: int) -> None:
        if not subscription.watchers:
            self._dropping.append(subscription)  # retained, or a run still under way for nobody
            return
        if subscription.function is not None and subscription.result_ts < commit_ts:
            if subscription.valid_until is None:
                subscription.valid_until = commit_ts
            subscription.needs_ts = max(subscription.needs_ts, commit_ts)
            self._stale.add(subscription)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """One step of the re-run phase (see the module docstring), then the deliveries it allows."""
        self._flush_scheduled = False
        try:
            self._step()
            self._deliver()
        except Exception:  # noqa: BLE001 - a soon-callback has nobody to report to
            logger.exception("refreshing subscriptions failed")

    def _step(self) -> None:
        if self._phase is None:
            if not self._stale:
                return
            if self._processes_ready():
                self._dispatch()
                return
            loop = asyncio.get_running_loop()
            if loop.time() < self._next_phase_at:
                if self._phase_timer is None:
                    self._phase_timer = loop.call_at(self._next_phase_at, self._phase_due)
                return
            snapshot = self.database.open_snapshot()
            if snapshot.ts != self.ts:
                # A commit is durable but not matched yet: its listener starts the phase.
                snapshot.close()
                return
            self._phase, self._phase_started = snapshot, loop.time()
            self._queue = self._fair_order(
                [s for s in self._stale if s.needs_ts <= snapshot.ts and s not in self._elsewhere]
            )
            # Run nothing in this turn: what the commit woke (responses, their frames) goes out first.
            self._schedule_flush()
            return
        phase = self._phase
        if self._joining:
            self._queue = self._fair_order([*reversed(self._queue), *self._joining])
            self._joining.clear()
        started = time.perf_counter()
        with self.database.use_snapshot(phase):
            while self._queue and time.perf_counter() - started < knobs.SYNC_RERUN_STEP_S:
                subscription = self._queue.pop()
                due = subscription.stale and subscription.needs_ts <= phase.ts and subscription.watchers
                if not due or subscription in self._elsewhere:
                    continue
                if subscription.slow:
                    self._move(subscription, time.perf_counter())
                else:
                    self._run(subscription, phase.ts)
        if self._queue:
            self._schedule_flush()
            return
        phase.close()
        self._phase = None
        self._joining.clear()
        self._phase_ts = phase.ts
        self._dirty.update(self._pending)  # a newer ts to try
        # Re-runs get at most half the loop: the next phase waits as long as this one took.
        now = asyncio.get_running_loop().time()
        self._next_phase_at = now + (now - self._phase_started)
        if self._stale:
            self._schedule_flush()

    # --- re-runs on worker processes -----------------------------------------------------------
    def _processes_ready(self) -> bool:
        """Whether re-runs go to worker processes now (starting them if they are due)."""
        if self._processes_off:
            return False
        if self._processes is None:
            try:
                self._processes = RerunProcesses(self.executor, knobs.RERUN_PROCESSES)
            except Exception:  # noqa: BLE001 - without processes, re-runs stay on the loop
                logger.exception("could not start the re-run worker processes; re-runs stay on the event loop")
                self._processes_off = True
                return False
        return self._processes.ready

    def _stop_processes(self) -> None:
        if self._processes is not None:
            self._processes.close()
            self._processes = None
        for subscription, token in list(self._elsewhere.items()):
            if token in self._batch_tokens:
                self._abandon_move(subscription)  # stale still: it runs again
        self._batch_tokens.clear()

    def _dispatch(self) -> None:
        """Send the stale subscriptions to the processes, a connection's together, as far as they take them."""
        processes = self._processes
        assert processes is not None
        capacity = processes.count * knobs.RERUN_BATCHES_PER_PROCESS - self._batches_in_flight
        if capacity <= 0:
            return  # a batch coming back flushes again
        due = [s for s in self._stale if s not in self._elsewhere and s.watchers and s.function is not None]
        batches: list[list[Subscription]] = []
        batch: list[Subscription] = []
        for subscription in due:
            if subscription.slow:  # past a process's budget last time: a thread of this process takes it
                self._move(subscription, time.perf_counter())
        # Batches grow when many are due (a storm of first runs), so that each dispatch, which looks
        # at every stale subscription, sends a good share of them.
        share = len(due) // (2 * processes.count * knobs.RERUN_BATCHES_PER_PROCESS)
        size = min(max(knobs.RERUN_BATCH_SIZE, share), knobs.RERUN_MAX_BATCH_SIZE)
        for owner in self._owners_in_turn([s for s in due if not s.slow]):
            batch.extend(owner)
            if len(batch) >= size:
                batches.append(batch)
                batch = []
        if batch:
            batches.append(batch)
        for batch in batches[:capacity]:
            self._send(processes, batch)

    def _send(self, processes: RerunProcesses, batch: list[Subscription]) -> None:
        token = object()
        self._batch_tokens.add(token)
        requests = []
        for subscription in batch:
            self._send_away(subscription, token)
            caller = subscription.caller
            requests.append(
                RerunRequest(subscription.path, subscription.args, caller.identity, subscription.journal, subscription.connection)
            )
        self._batches_in_flight += 1

        async def sent() -> None:
            outcome: RerunBatch | None = None
            try:
                outcome = await processes.run(requests)
            except asyncio.CancelledError:
                pass  # the processes were stopped or replaced: these run again
            except Exception:  # noqa: BLE001 - a dead process or a runtime failure: back to the loop
                logger.exception("a re-run worker process failed; re-runs stay on the event loop from now on")
                self._processes_off = True
                self._stop_processes()
            self._batches_in_flight -= 1
            self._batch_tokens.discard(token)
            self._schedule_flush()
            if outcome is None:
                for subscription in batch:
                    if self._elsewhere.get(subscription) is token:
                        self._abandon_move(subscription)
                return
            self.process_batches += 1
            for subscription, result in zip(batch, outcome.outcomes):
                if self._elsewhere.get(subscription) is not token:
                    continue  # dropped, or new code since: not wanted
                if result.over_budget:
                    subscription.slow = True
                    self._move(subscription, time.perf_counter())
                else:
                    self._record_remote(subscription, result)
                    self._land(subscription, outcome.ts, result.read_set)

        asyncio.get_running_loop().create_task(sent(), name="opencom-rerun-batch")

    def _owners_in_turn(self, subscriptions: list[Subscription]) -> list[list[Subscription]]:
        """``subscriptions`` grouped by connection (the first watching each), a different one first each time."""
        queues: dict[Watcher | None, list[Subscription]] = {}
        for subscription in subscriptions:
            queues.setdefault(next(iter(subscription.watchers), None), []).append(subscription)
        owners = list(queues.values())
        self._turn = (self._turn + 1) % max(len(owners), 1)
        return owners[self._turn :] + owners[: self._turn]

    def _fair_order(self, subscriptions: list[Subscription]) -> list[Subscription]:
        """One subscription from each connection in turn, the first to run last (``_queue`` pops)."""
        # Every live subscription has a watcher (the last one out drops it); None only guards the type.
        queues: dict[Watcher | None, list[Subscription]] = {}
        for subscription in subscriptions:
            queues.setdefault(next(iter(subscription.watchers), None), []).append(subscription)
        owners = list(queues)
        self._turn = (self._turn + 1) % max(len(owners), 1)
        owners = owners[self._turn :] + owners[: self._turn]
        ordered = [
            queue[index] for index in range(max(map(len, queues.values()), default=0))
            for queue in (queues[owner] for owner in owners) if index < len(queue)
        ]  # fmt: skip
        ordered.reverse()
        return ordered

    def _phase_due(self) -> None:
        self._phase_timer = None
        self._schedule_flush()

    def _deliver(self) -> None:
        """Transitions to the newest ts, else to the last phase's snapshot or a landed result's, whichever is whole."""
        earlier = sorted({ts for ts in (self._phase_ts, *self._landed) if ts < self.ts}, reverse=True)
        del earlier[DELIVERY_CANDIDATES:]
        self._landed.clear()
        # A connection not delivered to stays pending; it is tried again once something it waits
        # for may have changed, not at every step (a storm of connections waiting for their first
        # results would otherwise try them all after every run).
        dirty, self._dirty = self._dirty, set()
        for watcher in dirty:
            if watcher in self._pending and (watcher.deliver(self.ts) or any(watcher.deliver(ts) for ts in earlier)):
                self._pending.discard(watcher)
