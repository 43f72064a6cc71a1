"""Receipts: which client mutations committed, stored with their writes, so a resent one is answered, not rerun.

The npm client resends every mutation no Transition has confirmed, under the same session id and
request id, after it reconnects (convex-protocol §6.5), possibly to another server of the deployment
or to the same one restarted. A server's in-memory log (``runtime.server.mutation_log``) answers
resends it saw run; a receipt answers the others. The writer stores one row per committed client
mutation that wrote, keyed by (session id, request id, caller principal), in the transaction that
commits its writes: a mutation's effects and its receipt are durable together or not at all. All the
receipts of one commit group are inserted by one statement.

Before running a mutation that *may have run before* (``Receipt.may_have_run``: it arrived on a
reconnected connection, or the connection it came on has gone away, so its client may be resending
it elsewhere), the writer looks its key up inside its own transaction (on PostgreSQL, under the
writers' lock), one statement for all such mutations of the group. A key found there means the
mutation committed before: it is not run again, and the caller gets the recorded outcome
(``AlreadyCommitted``). Looking up only those mutations keeps the cost off every other commit.

A mutation that failed wrote nothing and leaves no receipt: the client gave up on it when it heard
the error, and one that resends it (the error never reached it) runs it again, exactly as if the
first run had not happened, which it has not as far as the data is concerned. A mutation that
succeeded without writing leaves none either, so that read-only commits stay free of disk writes;
running it again changes nothing. Receipts older than ``knobs.MUTATION_RECEIPTS_KEPT_S`` are
deleted, at most once a tenth of that period, by a commit group that writes anyway.

HTTP API mutations (``POST /api/mutation``) carry no request identity in Convex's protocol, so they
get no receipt: a client that retries one after a lost response runs it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from runtime.values.values import Value

ReceiptKey = tuple[str, int, str]  # session id, request id, caller principal

_encoder = msgspec.msgpack.Encoder()
# msgpack keeps int64, float64, str and bytes apart, as documents are stored (``runtime.store.sqlite``).
_decoder = msgspec.msgpack.Decoder(tuple[object, list[str], list[tuple[str, str]]])


@dataclass(slots=True)
class Receipt:
    """A client mutation's identity, and its outcome once an attempt of it succeeded.

    ``outcome`` is set by the attempt whose writes the writer is about to commit (every later
    attempt overwrites an earlier one's), and stored by the writer if that attempt wrote.
    """

    key: ReceiptKey
    may_have_run: Callable[[], bool]  # whether the writer must look for an earlier commit first
    outcome: bytes | None = None


@dataclass(frozen=True, slots=True)
class RecordedOutcome:
    """What a committed mutation returned: its value, log lines, connection proofs and commit ts."""

    value: Value
    log_lines: list[str]
    proofs: tuple[tuple[str, str], ...]  # (kind, value), as ``ctx.connection`` proves them
    ts: int


class AlreadyCommitted(Exception):
    """The writer found the mutation's receipt: it committed before, here or on another server."""

    def __init__(self, outcome: RecordedOutcome) -> None:
        super().__init__("this mutation already committed")
        self.outcome = outcome


def encode_outcome(value: Value, log_lines: list[str], proofs: list[tuple[str, str]]) -> bytes:
    """The stored form of a successful mutation's outcome (its ts is a column of its own)."""
    return _encoder.encode((value, log_lines, proofs))


def decode_outcome(stored: bytes, ts: int) -> RecordedOutcome:
    """Inverse of ``encode_outcome``, with the commit ts stored beside it."""
    value, log_lines, proofs = _decoder.decode(stored)
    return RecordedOutcome(value, log_lines, tuple(proofs), ts)
