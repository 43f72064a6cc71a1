"""Query-set amplification: what one connection adding many copies of a query costs everyone else.

    python bench/amplification.py [--before REV] [--copies 512] [--trials 5] [--messages 300]

Starts the server of the working tree and, with ``--before``, the server of another git revision
(e.g. ``main``) on ``examples/chat``, each holding ``--messages`` chat messages. A trial, run on
each server in turn (interleaved), starts an attacker process whose connection sends one ``ModifyQuerySet``
adding ``messages:list {}`` ``--copies`` times with distinct journals, and 20 ms later a victim's
HTTP query of the same function. It prints, per version, median [min-max] over the trials of:

- ``victim_ratio``: the victim's latency during the attack ÷ its latency with no attack;
- ``attacker_first_reply_s``: the attacker's wait for its first Transition;
- ``rss_growth_mb``: the server's resident memory after the attack minus before it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versions import REPO, compare, rss_mb  # noqa: E402

APP = REPO / "examples" / "chat"
VICTIM_DELAY_S = 0.02
TRIAL_TIMEOUT_S = 300.0


async def query(http: aiohttp.ClientSession, url: str, path: str) -> float:
    """One HTTP query; returns its latency in seconds."""
    started = time.perf_counter()
    async with http.post(f"{url}/api/query", json={"path": path, "args": {}, "format": "json"}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    return time.perf_counter() - started


async def seed(http: aiohttp.ClientSession, url: str, count: int) -> None:
    for number in range(count):
        args = {"author": f"user{number % 7}", "body": f"message {number} " + "lorem ipsum " * 8}
        async with http.post(f"{url}/api/mutation", json={"path": "messages:send", "args": args}) as response:
            assert (await response.json())["status"] == "success"


async def attacker(url: str, copies: int) -> None:
    """The attacking client (its own process, so that reading its huge reply slows only itself).

    Prints ``sent`` once its ``ModifyQuerySet`` is on the wire, then the seconds until its first
    Transition arrived.
    """
    async with aiohttp.ClientSession() as http:
        socket = await http.ws_connect(url.replace("http", "ws", 1) + "/api/sync", max_msg_size=0)
        connect: dict[str, Any] = {"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                                   "lastCloseReason": "InitialConnect", "clientTs": 0}  # fmt: skip
        await socket.send_json(connect)
        adds = [{"type": "Add", "queryId": i, "udfPath": "messages:list", "args": [{}], "journal": f"j{i}"}
                for i in range(copies)]  # fmt: skip
        started = time.perf_counter()
        await socket.send_json({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": adds})
        print("sent", flush=True)
        while True:
            message = await socket.receive(TRIAL_TIMEOUT_S)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"attacker socket closed: {message.type}")
            if message.data.startswith('{"type":"Transition"'):  # no parse: 512 results are megabytes
                print(time.perf_counter() - started, flush=True)
                break
        await socket.close()


async def attack(http: aiohttp.ClientSession, url: str, copies: int) -> tuple[float, float]:
    """One attack; returns (victim latency during it, attacker's wait for its first Transition)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--attack", url, "--copies", str(copies), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert (await asyncio.wait_for(process.stdout.readline(), TRIAL_TIMEOUT_S)).strip() == b"sent"
    await asyncio.sleep(VICTIM_DELAY_S)
    victim = await query(http, url, "messages:list")
    first_reply = float(await asyncio.wait_for(process.stdout.readline(), TRIAL_TIMEOUT_S))
    await process.wait()
    return victim, first_reply


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="git revision to compare with (e.g. main)")
    parser.add_argument("--copies", type=int, default=512)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--attack", metavar="URL", help=argparse.SUPPRESS)  # run as the attacker process
    options = parser.parse_args()
    if options.attack:
        await attacker(options.attack, options.copies)
        return

    async def prepare(http: aiohttp.ClientSession, url: str) -> None:
        await seed(http, url, options.messages)

    async def trial(http: aiohttp.ClientSession, url: str, pid: int) -> dict[str, float]:
        quiet = sorted([await query(http, url, "messages:list") for _ in range(5)])[2]
        rss_before = rss_mb(pid)
        victim, first_reply = await attack(http, url, options.copies)
        return {
            "victim_ratio": victim / quiet,
            "attacker_first_reply_s": first_reply,
            "rss_growth_mb": rss_mb(pid) - rss_before,
        }

    await compare(options.before, APP, options.trials, prepare, trial)


if __name__ == "__main__":
    asyncio.run(main())
