"""Every server's commits reach every server's subscriptions, in the one global commit order.

Several servers serving one PostgreSQL database commit in turns (``runtime.store.postgres``: a
writer's transaction holds the deployment's advisory lock). This feed makes each server *see*
every commit, in timestamp order, whichever server made it:

- **Publish.** Inside the committing transaction, after the lock, a group's commits (timestamps
  and write sets) are appended to ``commit_log`` as one row and announced with ``NOTIFY``.
  PostgreSQL delivers notifications at commit, in commit order. The payload is
  ``<node> <prev_ts> <last_ts> [<base64 commits>]``: ``prev_ts`` is the timestamp of the commit
  just before the group, so a listener can tell whether it has seen everything before it. A
  write set too large for a payload (PostgreSQL's limit is 8000 bytes) is left out; listeners
  then read it from ``commit_log``.
- **Catch up under the lock.** A writer that has just taken the lock reads, in the same
  transaction, the commits other servers made since the last one it delivered (``missed``), so
  its own commits are never delivered before earlier ones.
- **Listen.** A task keeps a ``LISTEN`` connection. A notification that continues the delivered
  chain, with its body, is delivered as is; otherwise (a gap, a body left out) the commits after
  the last delivered one are read from ``commit_log``. After a lost connection it reconnects and
  reads what it missed the same way.

Delivery is idempotent by timestamp (``Database.deliver_commits`` drops what is not newer than
what it delivered), so a commit reached by two of these paths is delivered once. ``commit_log``
keeps ``LOG_RETENTION_S`` of history; a server cut off from PostgreSQL for longer cannot tell
what changed and says so in its log.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import psycopg

from runtime.database.read_set import Commit, DocumentWrite
from runtime.store.postgres import CONNECT_TIMEOUT_S, KEEPALIVES, PgRows
from runtime.store.sqlite import decode_document, encode_document

CHANNEL: Final = "opencom_commits"
# PostgreSQL refuses payloads of 8000 bytes or more; leave room for the header.
MAX_PAYLOAD: Final = 7900
LOG_RETENTION_S: Final = 3600.0
PRUNE_INTERVAL_S: Final = 60.0
RECONNECT_DELAY_S: Final = 0.5
_SINCE: Final = "SELECT prev_ts, body FROM commit_log WHERE ts > %s ORDER BY ts"

_log = logging.getLogger("opencom.cluster")
Deliver = Callable[[list[Commit]], None]


def encode_commits(commits: list[Commit]) -> bytes:
    """The commits of a group, with their write sets, as bytes (``decode_commits`` reverses it)."""
    return msgspec.msgpack.encode(
        [
            [
                commit.ts,
                [
                    [
                        write.table_number,
                        write.doc_id,
                        None if write.old is None else encode_document(write.old),
                        None if write.new is None else encode_document(write.new),
                        [[index_id, key] for index_id, key in write.keys],
                    ]
                    for write in commit.writes
                ],
            ]
            for commit in commits
        ]
    )


def decode_commits(data: bytes) -> list[Commit]:
    commits = []
    for ts, writes in msgspec.msgpack.decode(data):
        commits.append(
            Commit(
                ts,
                tuple(
                    DocumentWrite(
                        table_number,
                        doc_id,
                        None if old is None else decode_document(old),
                        None if new is None else decode_document(new),
                        tuple((index_id, bytes(key)) for index_id, key in keys),
                    )
                    for table_number, doc_id, old, new, keys in writes
                ),
            )
        )
    return commits


@dataclass(slots=True)
class LockedState:
    """What a writer learns right after taking the lock: the deployment's latest state."""

    ts: int
    creation_time: float
    catalog_shape: tuple[int, int, int]
    missed: list[Commit]


def catalog_shape(rows: PgRows) -> tuple[int, int, int]:
    """(tables, indexes, highest index id): changes whenever another server changes the catalog."""
    row = rows.connection.query(
        "SELECT (SELECT count(*) FROM tables), (SELECT count(*) FROM indexes), "
        "(SELECT coalesce(max(index_id), 0) FROM indexes)"
    )[0]
    return int(row[0]), int(row[1]), int(row[2])


def _missed(rows: list[tuple[Any, ...]], delivered_ts: int) -> list[Commit]:
    """The commits after ``delivered_ts`` in ``commit_log`` rows (prev_ts, body), warning about a gap."""
    if rows and rows[0][0] > delivered_ts:
        _log.error(
            "commits between ts %d and %d are no longer in commit_log: live queries of this server may "
            "show stale results until their data changes again",
            delivered_ts,
            rows[0][0],
        )
    return [commit for _, body in rows for commit in decode_commits(bytes(body)) if commit.ts > delivered_ts]


class CommitFeed:
    """One server's end of the feed (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.node = uuid.uuid4().hex[:12]
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None

    # --- the writer's side (inside its locked transaction) -----------------------------------
    def locked_state(self, rows: PgRows, delivered_ts: int) -> LockedState:
        """The latest commit timestamp, creation time and catalog shape, and what was missed since ``delivered_ts``."""
        meta = dict(rows.connection.query("SELECT key, value FROM meta WHERE key IN ('ts', 'creation_time')"))
        ts = int(meta.get("ts") or 0)
        missed: list[Commit] = []
        if ts > delivered_ts:
            missed = _missed(rows.connection.query(_SINCE, (delivered_ts,)), delivered_ts)
        return LockedState(ts, float(meta.get("creation_time") or 0.0), catalog_shape(rows), missed)

    def publish(self, rows: PgRows, prev_ts: int, commits: list[Commit]) -> None:
        """Log and announce ``commits`` (the group committing now, after ``prev_ts``)."""
        body = encode_commits(commits)
        last_ts = commits[-1].ts
        connection = rows.connection
        connection.modify(
            "INSERT INTO commit_log (ts, prev_ts, node, body) VALUES (%s, %s, %s, %s)",
            (last_ts, prev_ts, self.node, body),
        )
        payload = f"{self.node} {prev_ts} {last_ts}"
        encoded = base64.b64encode(body).decode()
        if len(payload) + 1 + len(encoded) <= MAX_PAYLOAD:
            payload = f"{payload} {encoded}"
        connection.modify("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        now = time.monotonic()
        if now - self._pruned_at > PRUNE_INTERVAL_S:
            self._pruned_at = now
            connection.modify("DELETE FROM commit_log WHERE ts < %s", (last_ts - int(LOG_RETENTION_S * 1e9),))

    # --- the listener -------------------------------------------------------------------------
    def start(self, deliver: Deliver, delivered_ts: Callable[[], int]) -> None:
        """Listen for other servers' commits and pass them to ``deliver`` (on this loop)."""
        if self._task is None:
            listening = self._listen(deliver, delivered_ts)
            self._task = asyncio.get_running_loop().create_task(listening, name="opencom-commit-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self, deliver: Deliver, delivered_ts: Callable[[], int]) -> None:
        while True:
            try:
                async with await _connect(self.url) as listening, await _connect(self.url) as reading:
                    await listening.execute(f"LISTEN {CHANNEL}")
                    await self._read_missed(reading, deliver, delivered_ts)  # what came before LISTEN
                    async for notification in listening.notifies():
                        await self._on_notification(notification.payload, reading, deliver, delivered_ts)
            except (psycopg.Error, OSError) as error:
                _log.warning("the commit feed lost PostgreSQL (%s); reconnecting", str(error).strip())
            except Exception:  # noqa: BLE001 - a bad payload or a failing listener must not end the feed
                _log.exception("the commit feed failed; reconnecting")
            await asyncio.sleep(RECONNECT_DELAY_S)

    async def _on_notification(
        self, payload: str, reading: psycopg.AsyncConnection[Any], deliver: Deliver, delivered_ts: Callable[[], int]
    ) -> None:
        node, prev_ts, last_ts, *body = payload.split(" ")
        if node == self.node or int(last_ts) <= delivered_ts():
            return  # our own commits are delivered by our writer
        if body and int(prev_ts) <= delivered_ts():
            deliver(decode_commits(base64.b64decode(body[0])))
        else:
            await self._read_missed(reading, deliver, delivered_ts)

    @staticmethod
    async def _read_missed(
        reading: psycopg.AsyncConnection[Any], deliver: Deliver, delivered_ts: Callable[[], int]
    ) -> None:
        since = delivered_ts()
        cursor = await reading.execute(_SINCE, (since,))
        missed = _missed(await cursor.fetchall(), since)
        if missed:
            deliver(missed)  # delivery drops what our own writer delivered meanwhile


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES
    )

