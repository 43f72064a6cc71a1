"""Drives the official PyPI ``convex`` client for tests/test_official_python_client.py.

Usage: ``python official_python_driver.py <deployment url>``. Reads one JSON command per stdin line
and answers each with one JSON line on stdout carrying the same ``id`` (the protocol of
tests/npm/driver.mjs, minus the HTTP client). It runs in its own process because the official
client holds the GIL while it blocks; commands therefore run one at a time, in order.
Values cross the pipe in Convex's encoded JSON, so int64 and bytes stay exact.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from convex import ConvexClient, ConvexError, QuerySubscription
from convex.values import convex_to_json, json_to_convex


def _decode(data: Any) -> Any:
    """json_to_convex, after turning JSON integers into floats (it only accepts floats)."""
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return float(data)
    if isinstance(data, list):
        return [_decode(item) for item in data]
    if isinstance(data, dict):
        if len(data) == 1 and next(iter(data)).startswith("$"):
            return json_to_convex(data)
        return {key: _decode(item) for key, item in data.items()}
    return data


def main() -> None:
    client = ConvexClient(sys.argv[1])
    subscriptions: dict[str, QuerySubscription] = {}
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict[str, Any] = {"id": command["id"]}
        try:
            op = command["op"]
            args = _decode(command.get("args", {}))
            if op in ("query", "mutation", "action"):
                value = getattr(client, op)(command["path"], args)
            elif op == "subscribe":
                subscriptions[command["sub"]] = client.subscribe(command["path"], args)
                value = None
            elif op == "next":
                value = next(subscriptions[command["sub"]])
            elif op == "close":
                print(json.dumps({**answer, "ok": True, "value": None}), flush=True)
                return
            else:
                raise ValueError(f"unknown op {op}")
            answer.update(ok=True, value=convex_to_json(value))
        except ConvexError as error:
            answer.update(ok=False, name="ConvexError", message=str(error), data=convex_to_json(error.data))
        except Exception as error:  # noqa: BLE001 - every failure is reported to the test
            answer.update(ok=False, name=type(error).__name__, message=str(error))
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
