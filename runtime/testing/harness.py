"""``ConvexTest``: an app on a fresh database, called the way convex-test calls a Convex app.

    async with ConvexTest("path/to/app") as t:
        await t.mutation("messages:send", {"body": "hi"})
        assert await t.query("messages:list") == [...]
        asuser = t.with_identity({"name": "Ada"})

It is the real runtime — the app's schema and functions loaded by ``load_app``, the real
transactional engine on a temporary SQLite file — not a mock, so what passes here behaves the
same on the server. Functions are named by path (``"messages:send"``) or by the function object
itself; internal functions may be called, as convex-test allows. Time is a ``ManualClock``:
nothing scheduled runs until the test moves time (``runtime.testing.time_control``).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from runtime.database.read_set import Commit
from runtime.functions.definitions import FunctionDefinition, Kind
from runtime.functions.environment import set_env
from runtime.functions.executor import Executor, FunctionResult
from runtime.functions.http_actions import Request, run_http_action
from runtime.testing.subscriptions import Subscription
from runtime.testing.time_control import DEFAULT_MAX_ITERATIONS, TimeControl, acquire_clock, release_clock
from runtime.values import ids

DEFAULT_ISSUER = "https://convex.test"


@dataclass
class TestResponse:
    """What ``t.fetch`` returns: the HTTP action's status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    log_lines: list[str] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def user_identity(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Claims completed as convex-test completes them: ``subject``, ``issuer``, ``tokenIdentifier`` derived."""
    subject = claims.get("subject") or str(zlib.crc32(json.dumps(dict(claims), sort_keys=True).encode()))
    issuer = claims.get("issuer") or DEFAULT_ISSUER
    token_identifier = claims.get("tokenIdentifier") or f"{issuer}|{subject}"
    return {**claims, "subject": subject, "issuer": issuer, "tokenIdentifier": token_identifier}


class _Shared:
    """What every identity view of one harness shares: the executor, the clock driver, the subscriptions."""

    def __init__(self, executor: Executor, time: TimeControl | None, temporary_dir: Path | None) -> None:
        self.executor = executor
        self._time = time  # None: the harness follows the real clock (see ``ConvexTest.around``)
        self.temporary_dir = temporary_dir  # deleted at close; None when the caller chose the directory
        self.subscriptions: list[Subscription] = []
        self.pending_commits: list[Commit] = []
        self._by_code: dict[tuple[str, int], FunctionDefinition] | None = None
        executor.database.add_commit_listener(self.pending_commits.extend)

    @property
    def time(self) -> TimeControl:
        if self._time is None:
            raise RuntimeError("this harness runs on the real clock: time cannot be moved, jobs run by themselves")
        return self._time

    def refresh_subscriptions(self) -> None:
        commits, self.pending_commits[:] = list(self.pending_commits), []
        self.subscriptions = [subscription for subscription in self.subscriptions if not subscription.closed]
        for subscription in self.subscriptions:
            subscription.on_commits(commits)
            subscription.refresh()

    def path_of(self, reference: str | FunctionDefinition) -> str:
        """The path of a function given by path, or by the function object (as loaded here or imported by the test)."""
        if isinstance(reference, str):
            return reference
        if not isinstance(reference, FunctionDefinition):
            raise TypeError(f"expected a function path or a Convex function, got {reference!r}")
        if reference.path is not None:
            return reference.path
        if self._by_code is None:
            self._by_code = {_code_key(function): function for function in self.executor.app.functions.values()}
        found = self._by_code.get(_code_key(reference))
        if found is None or found.path is None:
            raise LookupError(f"{reference!r} is not a function of the app at {self.executor.app.root}")
        return found.path


def _code_key(function: FunctionDefinition) -> tuple[str, int]:
    code = function.handler.__code__
    return (str(Path(code.co_filename).resolve()), code.co_firstlineno)


class ConvexTest:
    """The app at ``app_dir`` on a fresh temporary database; use ``async with`` (or ``open``/``close``).

    ``env`` sets deployment environment variables; ``seed`` makes ids and ``random`` deterministic;
    ``start_ms`` fixes where the clock starts (default: now, whole milliseconds); ``data_dir`` keeps
    the database in that directory (kept after close, e.g. for a server to open next) instead of a
    temporary one.
    """

    def __init__(
        self,
        app_dir: Path | str,
        *,
        env: Mapping[str, str] | None = None,
        seed: int | None = None,
        start_ms: float | None = None,
        data_dir: Path | str | None = None,
    ) -> None:
        self._app_dir = Path(app_dir)
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._env = dict(env or {})
        self._seed = seed
        self._start_ms = start_ms
        self._shared: _Shared | None = None
        self._identity: dict[str, Any] | None = None
        self._owner = True

    # --- lifecycle --------------------------------------------------------------------------
    async def open(self) -> Self:
        """Load the app, create its database and sync its crons (time does not move)."""
        if self._shared is not None:
            return self
        manual = acquire_clock(self._start_ms)
        temporary = Path(tempfile.mkdtemp(prefix="opencom-test-")) if self._data_dir is None else None
        data_dir = temporary or self._data_dir
        assert data_dir is not None
        try:
            executor = Executor.open(self._app_dir, data_dir, synchronous="OFF")
            executor.run_scheduled_jobs = False  # the test's clock drives them
            if self._seed is not None:
                ids.seed_ids(self._seed)
                random.seed(self._seed)
            await executor.start()
            for name, value in self._env.items():
                await set_env(executor.database, name, value)
            await executor.cron_runner.sync()
        except BaseException:
            release_clock()
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            raise
        self._shared = _Shared(executor, TimeControl(executor, manual), temporary)
        return self

    @classmethod
    def around(cls, executor: Executor) -> ConvexTest:
        """A harness over an executor the caller opened and will close, on the real clock.

        For tests of the runtime's own background work (the job runner, the cron loop): calls,
        ``run``, ``fetch`` and ``subscribe`` work as usual; time cannot be moved.
        """
        harness = cls(executor.app.root)
        harness._shared = _Shared(executor, None, None)
        harness._owner = False
        return harness

    async def close(self) -> None:
        """Stop everything started, delete the database and give the process its clock back."""
        shared, self._shared = self._shared, None
        if shared is None or not self._owner:
            return
        try:
            await shared.time.close()
            await shared.executor.close()
        finally:
            if self._seed is not None:
                ids.seed_ids(None)
            release_clock()
            if shared.temporary_dir is not None:
                shutil.rmtree(shared.temporary_dir, ignore_errors=True)

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def executor(self) -> Executor:
        """The runtime's executor under the harness (for what the harness does not wrap)."""
        return self._state.executor

    @property
    def _state(self) -> _Shared:
        if self._shared is None:
            raise RuntimeError("this ConvexTest is not open: use `async with ConvexTest(...) as t`")
        return self._shared

    # --- identity ---------------------------------------------------------------------------
    def with_identity(self, claims: Mapping[str, Any]) -> ConvexTest:
        """The same harness acting as the user ``claims`` describe (Convex ``UserIdentity`` fields)."""
        view = ConvexTest.__new__(ConvexTest)
        view.__dict__.update(self.__dict__)
        view._identity = user_identity(claims)
        view._owner = False
        return view

    @property
    def identity(self) -> dict[str, Any] | None:
        """The identity calls run with (None: anonymous)."""
        return self._identity

    # --- calls ------------------------------------------------------------------------------
    async def query(self, function: str | FunctionDefinition, args: dict[str, Any] | None = None) -> Any:
        """Run a query (public or internal) and return its value, raising its error."""
        return (await self._call(function, args, "query")).unwrap()

    async def mutation(self, function: str | FunctionDefinition, args: dict[str, Any] | None = None) -> Any:
        """Run a mutation in its own transaction and return its value, raising its error."""
        return (await self._call(function, args, "mutation")).unwrap()

    async def action(self, function: str | FunctionDefinition, args: dict[str, Any] | None = None) -> Any:
        """Run an action and return its value, raising its error."""
        return (await self._call(function, args, "action")).unwrap()

    async def call(
        self, function: str | FunctionDefinition, args: dict[str, Any] | None = None, *, public_only: bool = False
    ) -> FunctionResult:
        """Run any function, whatever its kind; never raises: the ``FunctionResult`` carries value or error.

        ``public_only`` calls as a client would: an internal function is then not found.
        """
        return await self._call(function, args, None, admin=not public_only)

    async def run(self, body: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``async def body(ctx)`` as a mutation with a real ``ctx``; an error rolls all of it back."""

        async def run_in_test(ctx: Any, args: Any) -> Any:
            return await body(ctx)

        function = FunctionDefinition("mutation", "internal", run_in_test, None, None, None, False)
        state = self._state
        result = await state.executor.run_function(function, {}, identity=self._identity)
        state.refresh_subscriptions()
        return result.unwrap()

    async def _call(
        self, function: str | FunctionDefinition, args: dict[str, Any] | None, kind: Kind | None, *, admin: bool = True
    ) -> FunctionResult:
        state = self._state
        path = state.path_of(function)
        result = await state.executor.run(
            path, {} if args is None else args, identity=self._identity, admin=admin, kind=kind
        )
        state.refresh_subscriptions()
        return result

    # --- HTTP actions -----------------------------------------------------------------------
    async def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
        json_body: Any = None,
    ) -> TestResponse:
        """Send a request to the app's HTTP router, no socket involved (``path`` may carry a query string)."""
        if not path.startswith("/"):
            raise ValueError("Path given to `fetch` must start with a `/`")
        state = self._state
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers.setdefault("content-type", "application/json")
        payload = body.encode() if isinstance(body, str) else (body or b"")
        route = path.split("?", 1)[0].split("#", 1)[0]
        request = Request(method.upper(), state.executor.site_url.rstrip("/") + path, all_headers, payload)
        outcome = await run_http_action(state.executor, request, route, identity=self._identity)
        body = outcome.body
        if outcome.stream is not None:  # a streamed response is read to its end, as a client would
            body = b"".join([chunk async for chunk in outcome.stream])
        state.refresh_subscriptions()
        return TestResponse(outcome.status, outcome.headers, body, outcome.log_lines)

    # --- subscriptions ----------------------------------------------------------------------
    def subscribe(self, function: str | FunctionDefinition, args: dict[str, Any] | None = None) -> Subscription:
        """Follow a query: its first result is queued now, then one per committed change it can see."""
        state = self._state
        path = state.path_of(function)
        query = state.executor.app.lookup(path, kind="query", allow_internal=True)
        arguments = {} if args is None else args
        identity = self._identity

        def run() -> FunctionResult:
            return state.executor.run_query(query, arguments, identity=identity)

        subscription = Subscription(path, run)
        subscription.refresh()
        state.subscriptions.append(subscription)
        return subscription

    # --- time -------------------------------------------------------------------------------
    def now_ms(self) -> float:
        """The harness's current time (what ``runtime.now_ms()`` returns in functions)."""
        return self._state.time.now_ms()

    async def advance_time(self, seconds: float) -> None:
        """Move time forward: due cron ticks run and due scheduled functions start (see ``finish_*``)."""
        state = self._state
        await state.time.advance(seconds * 1000.0)
        state.refresh_subscriptions()

    async def finish_in_progress_scheduled_functions(self) -> None:
        """Wait for every started scheduled function to finish."""
        state = self._state
        await state.time.finish_in_progress()
        state.refresh_subscriptions()

    async def finish_all_scheduled_functions(self, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> None:
        """Run scheduled functions, advancing time to each, until none is left.

        Raises ``EndlessSchedulingError`` after ``max_iterations`` rounds (a function that keeps
        rescheduling itself).
        """
        state = self._state
        await state.time.finish_all(max_iterations)
        state.refresh_subscriptions()

    # --- environment ------------------------------------------------------------------------
    async def set_env(self, name: str, value: str) -> None:
        """Set a deployment environment variable (``ctx.env`` / ``os.environ`` in functions)."""
        await set_env(self._state.executor.database, name, value)
