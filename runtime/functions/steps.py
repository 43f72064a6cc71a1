"""Running a query or mutation handler to completion on the calling thread, with no event loop.

``ctx.db`` methods are coroutines that never wait for anything, so a handler normally finishes on
its first step and costs nothing more than a function call. Handlers may still await several of
them together — ``asyncio.gather(ctx.db.get(a), ctx.db.get(b))``, ``asyncio.create_task``, the
``Promise.all`` of Convex code — and those need a loop to schedule tasks on. ``StepLoop`` is the
smallest such loop: it runs only callbacks that are ready now, first scheduled first run, so a run
is deterministic; anything that would wait (timers, sockets, threads) fails with Convex's error.

While a handler runs, its ``StepLoop`` is the thread's running loop (``asyncio.get_running_loop``),
so ``gather`` and ``create_task`` schedule onto it; the loop that was running before (the server's)
is put back when the handler returns. A nested ``ctx.run_query``/``run_mutation`` gets its own.
Tasks still pending when the handler returns are cancelled: nothing runs after a function ended;
a task that failed without anyone retrieving its error fails the function.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from runtime.values.errors import ConvexValueError

_WAITS_MESSAGE = (
    "Can't use asynchronous I/O or timers (such as asyncio.sleep) in queries and mutations. "
    "Please consider using an action"
)


def _refuse_waiting() -> NoReturn:
    raise ConvexValueError(_WAITS_MESSAGE)


class StepLoop:
    """Just enough of an asyncio event loop for futures and tasks that complete without waiting."""

    def __init__(self) -> None:
        self._ready: deque[asyncio.Handle] = deque()  # callbacks to run, in the order scheduled
        self._tasks: list[asyncio.Task[Any]] = []  # every task created, to cancel leftovers at the end
        self._failure: BaseException | None = None  # the first exception a callback raised outside any task

    # --- what futures and tasks ask of their loop -------------------------------------------
    def get_debug(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return False

    def is_running(self) -> bool:
        return True

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)  # type: ignore[arg-type]

    def create_task(
        self, coroutine: Coroutine[Any, Any, Any], *, name: str | None = None, context: contextvars.Context | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coroutine, loop=self, name=name, context=context)  # type: ignore[arg-type]
        self._tasks.append(task)
        return task

    def call_soon(
        self, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)  # type: ignore[arg-type]
        self._ready.append(handle)
        return handle

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        # A callback that raised: the function fails with it, as an uncaught error would.
        error = context.get("exception")
        if self._failure is None and isinstance(error, BaseException):
            self._failure = error

    def __getattr__(self, name: str) -> Any:
        # Timers, executors, sockets, subprocesses: everything else a loop offers would wait.
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: _refuse_waiting()

    # --- driving ----------------------------------------------------------------------------
    def _run_ready(self, awaited: asyncio.Future[Any] | None) -> None:
        """Run ready callbacks until ``awaited`` is done (or, for a bare yield, those ready now)."""
        budget = len(self._ready) if awaited is None else None
        while self._ready and (budget is None or budget > 0):
            if awaited is not None and awaited.done():
                return
            handle = self._ready.popleft()
            if budget is not None:
                budget -= 1
            if not handle.cancelled():
                handle._run()
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure

    def drive(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Step ``coroutine`` until it returns, running the tasks it waits on in between."""
        while True:
            try:
                awaited = coroutine.send(None)
            except StopIteration as finished:
                return finished.value
            if awaited is not None:
                if not (asyncio.isfuture(awaited) and awaited.get_loop() is self):  # type: ignore[comparison-overlap]
                    coroutine.close()
                    _refuse_waiting()
                awaited._asyncio_future_blocking = False  # the protocol Task follows on resuming
            self._run_ready(awaited)
            if awaited is not None and not awaited.done():
                # Everything ready has run and the awaited result still is not there: it waits on I/O.
                coroutine.close()
                _refuse_waiting()

    def unhandled_failure(self) -> BaseException | None:
        """The first error of a task that nobody retrieved (awaited, gathered, asked for).

        It fails the function, as an unhandled promise rejection does in Convex (§8.2).
        """
        for task in self._tasks:
            # ``_log_traceback`` is asyncio's own "exception not retrieved yet" flag.
            if task.done() and not task.cancelled() and task._log_traceback:
                return task.exception()
        return None

    def cancel_pending(self) -> None:
        """Cancel tasks the handler left running and let them unwind."""
        for task in self._tasks:
            if not task.done():
                task.cancel()
        while self._ready:
            handle = self._ready.popleft()
            if not handle.cancelled():
                handle._run()
        self._failure = None


def run_to_completion(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a query or mutation handler on this thread; see the module docstring."""
    loop = StepLoop()
    outer = asyncio._get_running_loop()
    asyncio._set_running_loop(loop)  # type: ignore[arg-type]
    try:
        value = loop.drive(coroutine)
        failure = loop.unhandled_failure()
        if failure is not None:
            raise failure
        return value
    finally:
        try:
            loop.cancel_pending()
        finally:
            asyncio._set_running_loop(outer)
