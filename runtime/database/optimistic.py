"""Mutations too long for the writer: run beside it at a snapshot, committed only if nothing they read changed.

The writer runs mutations one at a time, so a mutation that computes for long would hold every
other caller's mutation behind it. One that spends the event loop's CPU budget
(``knobs.LOOP_CPU_BUDGET_S``) is therefore handed back by the writer (``OffWriter``, its attempt
rolled back) and run here instead, Convex's way (optimistic concurrency control):

1. On a worker thread, against a reader's snapshot at timestamp ``ts``, in a ``BufferedTransaction``
   that keeps its writes in memory and records its read set. Its time limit applies there, and a
   mutation stopped by it has written nothing anywhere.
2. Then as one step of the writer, in commit order: if a commit after ``ts`` wrote inside the read
   set (``RecentCommits``, the overlap rule of convex-semantics §5.2), or the catalog or schema it
   ran against changed, nothing is written and it runs again from step 1, up to
   ``knobs.MUTATION_OCC_RETRIES`` times, then fails with Convex's OCC error. Otherwise its writes
   are replayed on the writer's transaction and commit with the group.

Every committed history is still a serial one: a mutation committed at step 2 read exactly what it
would have read had it run at that point of the commit order. It commits at most once, and other
callers' mutations keep committing while it computes. A mutation that needs what only the writer
has (``NeedsWriter``) runs on the writer as before (``runtime.database.off_loop``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime import knobs
from runtime.database.off_loop import OffLoop, Workers
from runtime.database.read_set import DocumentWrite
from runtime.database.transaction import Transaction
from runtime.database.write_buffer import BufferedTransaction, NeedsWriter
from runtime.store.receipts import Receipt
from runtime.values.errors import OptimisticConcurrencyControlFailure
from runtime.values.values import Value

if TYPE_CHECKING:
    from runtime.database.database import Database, MutationResult

Attempt = Callable[[Transaction], Value]  # one run of the mutation, from the start, in a transaction
_OCC_HELP = "See https://docs.convex.dev/error#1"


class OffWriter(Exception):
    """Raised by a mutation body to the writer: it spent the loop's budget, so it runs here instead.

    The writer rolls the attempt back like any failed one; the caller then calls ``run_optimistically``.
    """


class WriteConflict(Exception):
    """Between a mutation's snapshot and its turn on the writer, something it read changed."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


async def run_optimistically(
    database: Database, workers: Workers, attempt: Attempt, receipt: Receipt | None = None
) -> MutationResult[Value]:
    """Run the mutation ``attempt`` off the writer and commit it (see the module docstring).

    ``attempt`` runs on a worker thread; errors it raises propagate, and nothing is written.
    ``receipt``: see ``Database.mutate``.
    """
    conflict = WriteConflict("")
    for _ in range(knobs.MUTATION_OCC_RETRIES + 1):
        with database.recent_commits.hold(database.committed_ts):
            try:
                value, buffered = await workers.run(_run_buffered, database, workers, attempt)
            except NeedsWriter:
                return await database.mutate(_on_writer(workers, attempt), receipt)
            try:
                return await database.mutate(functools.partial(_commit, database, buffered, value), receipt)
            except WriteConflict as error:
                conflict = error
    raise OptimisticConcurrencyControlFailure(f"{conflict.description} {_OCC_HELP}")


def _run_buffered(database: Database, workers: Workers, attempt: Attempt) -> tuple[Value, BufferedTransaction]:
    """On a worker thread: one attempt at that worker's latest snapshot, its writes buffered."""
    with workers.snapshot() as (rows, ts):
        transaction = BufferedTransaction(database, rows, ts)
        return attempt(transaction), transaction


def _commit(database: Database, buffered: BufferedTransaction, value: Value, transaction: Transaction) -> Value:
    """On the writer: ``buffered``'s writes, unless a commit since its snapshot changed what it read."""
    if buffered.catalog_version != database.catalog.version or buffered.schema is not database.schema:
        raise WriteConflict(
            "The tables, indexes or schema changed while this mutation was being run and on every subsequent retry."
        )
    search_overlap = database.search_indexes.write_overlaps
    write = database.recent_commits.first_conflict(buffered.read_set, buffered.ts, search_overlap)
    if write is not None:
        raise WriteConflict(_conflict_text(database, write))
    for change in buffered.writes:
        transaction.apply_write(change.table_number, change.doc_id, change.old, change.new)
    return value


def _conflict_text(database: Database, write: DocumentWrite) -> str:
    """Convex's words for a conflict with ``write``."""
    table = database.catalog.table_name(write.table_number) or str(write.table_number)
    return (
        f'Documents read from or written to the "{table}" table changed while this mutation was being run and on '
        f'every subsequent retry. Another call to a mutation changed the document with ID "{write.doc_id}".'
    )


def _on_writer(workers: Workers, attempt: Attempt) -> Callable[[Transaction], Any]:
    """A mutation body that runs ``attempt`` on a worker inside the writer's transaction (``OffLoop``)."""

    async def rerun(transaction: Transaction) -> Value:
        return await workers.run(attempt, transaction)

    def body(transaction: Transaction) -> Value:
        raise OffLoop(rerun)

    return body
