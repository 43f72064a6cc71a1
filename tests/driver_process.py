"""A client driver in a child process, spoken to in JSON lines (tests/npm/driver.mjs and
tests/official_python_driver.py): the official clients run unmodified, out of our process.

Every command carries an ``id`` and gets exactly one answer with that id, so commands may overlap.
Every wait is bounded; on a timeout the driver's stderr is quoted to explain what went wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from runtime.values.values import Value, from_json, to_json

CALL_TIMEOUT_S = 30.0


class DriverError(Exception):
    """A call that failed inside the driven client: the class name it raised, its message, its data."""

    def __init__(self, name: str, message: str, data: Value = None) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.data = data


class Driver:
    """One running driver process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._stderr: list[str] = []
        self._tasks = [asyncio.create_task(self._read_answers()), asyncio.create_task(self._read_stderr())]

    @classmethod
    async def start(cls, argv: Sequence[str], cwd: str | None = None, env: dict[str, str] | None = None) -> Driver:
        """Start ``argv`` with piped stdin/stdout/stderr (and ``env`` added to this process's environment)."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 << 20,
        )
        return cls(process)

    def send(self, op: str, *, args: dict[str, Value] | None = None, **fields: Any) -> asyncio.Future[dict[str, Any]]:
        """Send one command without waiting; the future completes with its raw answer."""
        command_id = next(self._ids)
        command = {"id": command_id, "op": op, **fields}
        if args is not None:
            command["args"] = to_json(args)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps(command) + "\n").encode())
        return future

    async def result(self, future: asyncio.Future[dict[str, Any]], timeout: float = CALL_TIMEOUT_S) -> Value:
        """The decoded value of a sent command, or its ``DriverError``."""
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise AssertionError(f"driver gave no answer within {timeout}s; its stderr:\n{self.stderr()}") from None
        if answer["ok"]:
            return from_json(answer["value"])
        raise DriverError(answer["name"], answer["message"], from_json(answer.get("data")))

    async def call(self, op: str, *, timeout: float = CALL_TIMEOUT_S, **fields: Any) -> Value:
        """Send one command and wait (bounded) for its value."""
        return await self.result(self.send(op, **fields), timeout)

    async def next_until(self, sub: str, accept: Callable[[Value], bool], timeout: float = CALL_TIMEOUT_S) -> Value:
        """Take updates of subscription ``sub`` until one satisfies ``accept``; returns it.

        Needed because clients may report a result more than once (the Rust core of the PyPI
        client yields every subscription on every Transition).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"subscription {sub} never showed the expected value; stderr:\n{self.stderr()}")
            value = await self.call("next", sub=sub, timeout=remaining)
            if accept(value):
                return value

    def stderr(self) -> str:
        """The last lines the driver wrote to stderr."""
        return "".join(self._stderr[-40:])

    async def close(self) -> None:
        """Ask the driver to close its clients and exit; kill it if it does not within a few seconds."""
        if self._process.returncode is None:
            try:
                await self.call("close", timeout=5)
                await asyncio.wait_for(self._process.wait(), 5)
            except (AssertionError, DriverError, TimeoutError, ConnectionError):
                pass
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read_answers(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout) {line.decode(errors='replace')}")
                continue
            future = self._waiting.pop(answer.get("id"), None)
            if future is not None and not future.done():
                future.set_result(answer)

    async def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        async for line in self._process.stderr:
            self._stderr.append(line.decode(errors="replace"))
            del self._stderr[:-200]
