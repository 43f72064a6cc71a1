"""One WebSocket connection speaking the Convex sync protocol: a small state machine per client.

States: *awaiting Connect* → *connected* → *closed*. In the connected state the session keeps
the client's view of the protocol (convex-protocol §6):

- ``query_set_version`` and ``identity_version`` count the ``ModifyQuerySet`` and ``Authenticate``
  frames applied; ``_end`` is the end version of the last Transition queued, which the next one
  must start from exactly; ``_end_ts`` the oldest ts the next one may show (its last one, or the
  commit of a mutation answered since).
- ``queries`` maps the client's query ids to shared subscriptions, ``_sent`` what the client was
  last sent for each of them (a result fingerprint), so unchanged results are never resent.
  Results count against ``knobs.SYNC_MAX_RESULT_BYTES`` in query-id order; a query past the
  budget is sent a ``QueryFailed`` saying so instead of its value.
- Mutations run one at a time in arrival order on a worker task; each ``MutationResponse`` is
  queued before the Transition that covers its timestamp (``subscriptions`` explains why), and
  every response is followed by a Transition, even an empty one. Actions run concurrently.
- A page load may subscribe before its auth library has read the stored token, so ``Authenticate``
  follows the first ``ModifyQuerySet`` by a few milliseconds; answering in between would show the
  page a signed-out user (``currentUser`` is null) and send it to its sign-in page. So on a fresh
  connection (``connectionCount`` 0: a reconnecting client authenticates before it subscribes)
  that has not authenticated, Transitions wait up to ``knobs.SYNC_AUTH_GRACE_S`` after the first
  query set, and an ``Authenticate`` arriving meanwhile is answered with them, in one Transition.
- ``connection`` is what functions see as ``ctx.connection`` (``runtime.functions.connection``): the
  client's address and the proofs its committed mutations recorded. A mutation runs with the
  proofs of every mutation before it; when a commit adds proofs, every query of the connection
  is subscribed again under them (as after ``Authenticate``), so its results follow.
- A mutation's outcome is remembered in memory (``mutation_log``) and, once it commits a write,
  in the store with its writes (``runtime.store.receipts``): a resend on a reconnected connection (a
  ``Connect`` with ``connectionCount`` > 0), or a mutation whose connection closed before it
  committed, is first looked up there, so it runs once even across restarts and servers.

A frame the client should never have sent ends the connection with ``FatalError``; a refused
credential with ``AuthError``. Neither disturbs any other connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt
from aiohttp import WSCloseCode, WSMsgType, web
from msgspec import UNSET, Raw, UnsetType

from runtime import knobs
from runtime.functions.connection import Connection, Proof
from runtime.functions.definitions import Kind
from runtime.functions.executor import FunctionResult
from runtime.functions.failures import describe, next_request_id
from runtime.server import wire_json
from runtime.server.authenticator import ANONYMOUS, AuthenticationError, Caller
from runtime.server.events import event_for
from runtime.server.outbox import Outbox
from runtime.server.protocol import (
    INITIAL_VERSION,
    Action,
    ActionResponse,
    Add,
    Authenticate,
    AuthError,
    Connect,
    Event,
    FatalError,
    Modification,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    ProtocolError,
    QueryFailed,
    QueryRemoved,
    StateVersion,
    Transition,
    decode_client_message,
    function_args,
)
from runtime.server.state import ServerState
from runtime.server.subscriptions import Fingerprint, Subscription
from runtime.server.timestamps import decode_ts, encode_ts
from runtime.store.receipts import Receipt
from runtime.values.errors import ArgumentValidationError, ConvexValueError
from runtime.values.values import binary_size

logger = logging.getLogger("opencom.server")


class _SessionEnded(Exception):
    """Stop reading this connection's frames; whatever had to be said is already queued."""


class SyncSession:
    """The server side of one sync connection (see the module docstring)."""

    def __init__(self, state: ServerState, socket: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.state = state
        self.manager = state.subscriptions
        self.outbox = Outbox(socket, transport)
        self.session_id: str | None = None
        self.caller: Caller = ANONYMOUS
        self.connection = Connection(client_address=_address(transport))
        self.query_set_version = 0
        self.identity_version = 0
        self.queries: dict[int, Subscription] = {}
        self._specs: dict[int, Add] = {}  # how each query was added, to re-subscribe on a new identity
        self._sent: dict[int, Fingerprint] = {}
        self._removed: set[int] = set()  # removed since the last Transition
        self._end = INITIAL_VERSION
        self._end_ts = 0
        self._transition_due = False
        self._clock_skew: float | UnsetType = UNSET
        # Made with the first Mutation, with the task that runs them: many connections (widgets)
        # only ever subscribe.
        self._mutations: asyncio.Queue[tuple[Mutation, Caller] | None] | None = None
        self._closed = False
        self._socket = socket
        self._expiry: asyncio.TimerHandle | None = None  # when the current user token runs out
        self._fresh = False  # the client's first connection (``Connect.connectionCount`` 0)
        # While set, no Transition leaves: the first query set waits for a following Authenticate.
        self._auth_grace: asyncio.TimerHandle | None = None

    # --- the connection's life ----------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection until the client leaves or is sent away."""
        try:
            async for frame in self._socket:
                if frame.type == WSMsgType.TEXT:
                    await self._receive(frame.data)
                elif frame.type == WSMsgType.BINARY:
                    self._fatal("Binary frames are not part of the sync protocol")
                    break
                else:
                    break
        except _SessionEnded:
            pass
        except Exception:
            logger.exception("a sync connection failed")
            self.outbox.close(WSCloseCode.INTERNAL_ERROR, "InternalServerError")
        finally:
            self._close()
        if not await self.outbox.closed(knobs.SYNC_CLOSE_TIMEOUT_S):
            self.outbox.abort("the client did not take its last frames in time")

    def _close(self) -> None:
        self._closed = True
        self._watch_expiry(None)
        self._end_auth_grace()
        self.manager.forget(self)
        for subscription in self.queries.values():
            self.manager.unsubscribe(subscription, self)
        self.queries.clear()
        if self._mutations is not None:
            while not self._mutations.empty():
                self._mutations.get_nowait()  # not started: the client resends what it still wants
            self._mutations.put_nowait(None)
        self.outbox.close(WSCloseCode.GOING_AWAY, "")

    def _fatal(self, message: str) -> None:
        logger.debug("closing a sync connection: %s", message)
        self.outbox.push(FatalError(message))
        self.outbox.close(WSCloseCode.POLICY_VIOLATION, "FatalError")

    async def _receive(self, text: str) -> None:
        try:
            message = decode_client_message(text)
            if self.session_id is None and not isinstance(message, Connect):
                raise ProtocolError(f"Expected Connect as the first message, got {type(message).__name__}")
            if isinstance(message, Connect):
                self._connect(message)
            elif isinstance(message, ModifyQuerySet):
                self._modify_query_set(message)
            elif isinstance(message, Mutation):
                if self._mutations is None:
                    self._mutations = asyncio.Queue()
                    self.state.spawn(self._run_mutations(self._mutations), "opencom-sync-mutations")
                self._mutations.put_nowait((message, self.caller))
            elif isinstance(message, Action):
                self.state.spawn(self._act(message, self.caller), "opencom-sync-action")
            elif isinstance(message, Authenticate):
                await self._authenticate(message)
            else:
                assert isinstance(message, Event)  # telemetry only
        except ProtocolError as error:
            self._fatal(str(error))
            raise _SessionEnded from None

    # --- frames -------------------------------------------------------------------------------
    def _connect(self, message: Connect) -> None:
        if self.session_id is not None:
            raise ProtocolError("Connect may only be sent once, as the first message")
        self.session_id = message.sessionId
        self._fresh = message.connectionCount == 0
        if message.clientTs:
            self._clock_skew = message.clientTs - time.time() * 1000.0
        if message.maxObservedTimestamp is not None:
            try:
                observed = decode_ts(message.maxObservedTimestamp)
            except ValueError as error:
                raise ProtocolError(str(error)) from None
            latest = max(self.manager.ts, self.state.executor.database.last_ts)
            if observed > latest:
                # The client saw data this server does not have; it reconnects and tries again.
                logger.warning("refusing a client that observed ts %d > %d", observed, latest)
                self.outbox.close(WSCloseCode.INTERNAL_ERROR, "InternalServerError: client is ahead of this server")
                raise _SessionEnded

    def _modify_query_set(self, message: ModifyQuerySet) -> None:
        base, current = message.baseVersion, self.query_set_version
        if base != current:
            raise ProtocolError(f"Base version {base} passed up doesn't match the current version {current}")
        if message.newVersion <= message.baseVersion:
            raise ProtocolError(
                f"New version {message.newVersion} must be greater than base version {message.baseVersion}"
            )
        live = set(self.queries)
        for modification in message.modifications:
            if isinstance(modification, Add):
                if modification.queryId in live:
                    raise ProtocolError(f"Duplicate query id {modification.queryId}")
                live.add(modification.queryId)
            else:
                if modification.queryId not in live:
                    raise ProtocolError(f"Removing unknown query id {modification.queryId}")
                live.discard(modification.queryId)
        if len(live) > knobs.SYNC_MAX_QUERIES:
            raise ProtocolError(f"Too many queries: a connection may subscribe to {knobs.SYNC_MAX_QUERIES} at most")
        if self._fresh and self.query_set_version == 0 and self.identity_version == 0:
            loop = asyncio.get_running_loop()
            self._auth_grace = loop.call_later(knobs.SYNC_AUTH_GRACE_S, self._end_auth_grace)
        for modification in message.modifications:
            query_id = modification.queryId
            if isinstance(modification, Add):
                self.queries[query_id] = self.manager.subscribe(
                    self, modification.udfPath, modification.args, modification.journal, self.caller, self.connection
                )
                self._specs[query_id] = modification
                self._removed.discard(query_id)
            else:
                self.manager.unsubscribe(self.queries.pop(query_id), self)
                del self._specs[query_id]
                self._sent.pop(query_id, None)
                self._removed.add(query_id)
        self.query_set_version = message.newVersion
        self._request_transition()

    async def _authenticate(self, message: Authenticate) -> None:
        if message.baseVersion != self.identity_version:
            raise ProtocolError(
                f"Base identity version {message.baseVersion} doesn't match the current version {self.identity_version}"
            )
        auth = self.state.auth
        try:
            if message.tokenType == "None":
                caller = ANONYMOUS
            elif message.tokenType == "User":
                caller = await auth.user(message.value or "")
            elif message.tokenType == "Admin":
                caller = auth.admin(message.value or "", message.impersonating or message.acting_as)
            else:
                raise ProtocolError(f"Unknown tokenType {message.tokenType!r}")
        except AuthenticationError as error:
            self.outbox.push(AuthError(str(error), self.identity_version, True))
            self.outbox.close(WSCloseCode.OK, "AuthError")
            raise _SessionEnded from None
        self.identity_version += 1
        self.caller = caller
        self._watch_expiry(token_expiry(message.value) if message.tokenType == "User" else None)
        self._resubscribe()
        self._end_auth_grace()
        self._request_transition()

    def _resubscribe(self) -> None:
        """Subscribe every query again under the current caller and connection proofs."""
        for query_id, previous in list(self.queries.items()):
            spec = self._specs[query_id]
            self.queries[query_id] = self.manager.subscribe(
                self, spec.udfPath, spec.args, previous.journal, self.caller, self.connection
            )
            self.manager.unsubscribe(previous, self)

    def _add_proofs(self, proofs: tuple[Proof, ...]) -> None:
        """A committed mutation proved ``proofs`` on this connection: its queries now run with them."""
        connection, previous = self.connection.with_proofs(proofs), self.connection
        self.connection = connection
        if connection.key != previous.key and not self._closed:
            self._resubscribe()

    def _end_auth_grace(self) -> None:
        """Let Transitions leave again (the grace passed, the client authenticated or left)."""
        if self._auth_grace is not None:
            self._auth_grace.cancel()
            self._auth_grace = None
            if not self._closed:
                self.manager.request_transition(self)

    def _watch_expiry(self, expires_at: float | None) -> None:
        """Tell the client when its token runs out, as Convex does, so it can fetch a fresh one."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if expires_at is not None:
            delay = max(0.0, expires_at - time.time())
            self._expiry = asyncio.get_running_loop().call_later(delay, self._token_expired)

    def _token_expired(self) -> None:
        self._expiry = None
        self.outbox.push(AuthError("Token expired", self.identity_version, False))
        self.outbox.close(WSCloseCode.OK, "AuthError")

    # --- mutations and actions ----------------------------------------------------------------
    async def _run_mutations(self, mutations: asyncio.Queue[tuple[Mutation, Caller] | None]) -> None:
        while (item := await mutations.get()) is not None:
            message, caller = item
            response, proofs = await self._mutation_response(message, caller)
            self.outbox.push(response)
            if response.ts is not None:
                # The next Transition must show this mutation's writes.
                self._end_ts = max(self._end_ts, decode_ts(response.ts))
            if proofs:
                self._add_proofs(proofs)
            self._request_transition(now=True)

    async def _mutation_response(self, message: Mutation, caller: Caller) -> tuple[MutationResponse, tuple[Proof, ...]]:
        """The response, and the proofs its commit added (a replay answered from the log applies them again)."""
        log = self.state.mutation_log
        key = (self.session_id or "", message.requestId, caller.principal)
        while (earlier := log.claim(key)) is not None:
            await asyncio.wait([earlier])
            if not earlier.cancelled():
                return earlier.result()
        receipt = Receipt(key, self._may_have_run)
        try:
            outcome = await self._execute(message.udfPath, message.args, caller, "mutation", receipt)
        except BaseException:
            log.abandon(key)
            raise
        if outcome.error is None:
            response = MutationResponse(
                message.requestId, True, _raw(outcome), encode_ts(outcome.ts or 0), outcome.log_lines
            )
        else:
            failure = describe(outcome.error)
            response = MutationResponse(
                message.requestId, False, failure.message(next_request_id()), None, outcome.log_lines, failure.data
            )
        log.record(key, (response, outcome.proofs))
        return response, outcome.proofs

    def _may_have_run(self) -> bool:
        """Whether a mutation of this connection may have committed before (``runtime.store.receipts``):
        the client is resending after a reconnect, or has gone and may resend it elsewhere."""
        return not self._fresh or self._closed

    async def _act(self, message: Action, caller: Caller) -> None:
        outcome = await self._execute(message.udfPath, message.args, caller, "action")
        if outcome.error is None:
            response = ActionResponse(message.requestId, True, _raw(outcome), outcome.log_lines)
        else:
            failure = describe(outcome.error)
            response = ActionResponse(
                message.requestId, False, failure.message(next_request_id()), outcome.log_lines, failure.data
            )
        self.outbox.push(response)
        self._request_transition()

    async def _execute(
        self, udf_path: str, raw_args: list[Any], caller: Caller, kind: Kind, receipt: Receipt | None = None
    ) -> FunctionResult:
        started = time.perf_counter()
        try:
            args = function_args(raw_args)
        except (ConvexValueError, ArgumentValidationError) as error:
            outcome = FunctionResult(error=error)
        else:
            # Awaited in this task, not a new one: the response must be queued in the same loop step
            # that learns the commit (see ``subscriptions``).
            executor = self.state.executor
            # Actions get the address only: what their nested mutations prove is not kept (runtime.functions.connection).
            address = self.connection.client_address
            connection = self.connection if kind == "mutation" else Connection(client_address=address)
            identity, admin = caller.identity, caller.admin
            outcome = await executor.run(
                udf_path, args, identity=identity, admin=admin, kind=kind, connection=connection, receipt=receipt
            )
        self.state.events.publish(event_for(udf_path, kind, started, outcome))
        return outcome

    # --- transitions --------------------------------------------------------------------------
    def _request_transition(self, *, now: bool = False) -> None:
        """A Transition is owed; ``now``: queue it at once if it is ready (one write with the frame before it)."""
        if not self._closed:
            self._transition_due = True
            if not (now and self.deliver(self.manager.ts)):
                self.manager.request_transition(self)

    def deliver(self, ts: int) -> bool:
        """Queue the Transition to ``ts`` this client is owed, if any (see ``subscriptions.Watcher``)."""
        if self._closed:
            return True
        if self._auth_grace is not None:
            return False  # asked again when the grace ends
        # One snapshot for all its queries, never older than what the client was shown or told.
        if ts < self._end_ts or not all(subscription.valid_at(ts) for subscription in self.queries.values()):
            return False
        modifications: list[Modification] = [QueryRemoved(query_id) for query_id in sorted(self._removed)]
        self._removed.clear()
        held = 0
        for query_id, subscription in self.queries.items():
            result = subscription.result
            assert result is not None
            size = len(result.value) if result.value is not None else 0
            if held + size > knobs.SYNC_MAX_RESULT_BYTES:
                modification: Modification = QueryFailed(query_id, _over_budget(), [], None)
                fingerprint = OVER_BUDGET
            else:
                held += size
                modification, fingerprint = result.modification(query_id), result.fingerprint
            if self._sent.get(query_id) != fingerprint:
                self._sent[query_id] = fingerprint
                modifications.append(modification)
        if not modifications and not self._transition_due:
            return True
        self._end_ts = ts
        end = StateVersion(self.query_set_version, self.identity_version, encode_ts(self._end_ts))
        # A Transition ends what this step has to say to the client: out now, with any response before it.
        self.outbox.send(
            Transition(self._end, end, modifications, serverTs=time.time_ns(), clientClockSkew=self._clock_skew)
        )
        self._end = end
        self._transition_due = False
        return True


OVER_BUDGET: Fingerprint = (b"over budget", b"", (), None)
"""What a client was last sent for a query whose result did not fit in its connection's budget."""


def _over_budget() -> str:
    limit = binary_size(knobs.SYNC_MAX_RESULT_BYTES)
    return (
        f"[Request ID: {next_request_id()}] Server Error\nUncaught Error: The results of this connection's queries "
        f"are too large to hold (limit: {limit}). Subscribe to fewer or smaller queries."
    )


def token_expiry(token: str | None) -> float | None:
    """The ``exp`` of an already verified JWT (seconds since the epoch), if it has one."""
    try:
        exp = jwt.decode(token or "", options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


def _address(transport: asyncio.Transport | None) -> str | None:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, (tuple, list)) and peer else None


def _raw(outcome: FunctionResult) -> Raw:
    return Raw(wire_json.encode(outcome.value))
