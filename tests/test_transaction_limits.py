"""Transaction limits and metrics (convex-semantics §1.5, §4.3, §4.4): what counts as a write, in which
size, and what a rolled-back sub-transaction gives back."""

from __future__ import annotations

import pytest

from runtime import knobs
from runtime.functions.executor import Executor


@pytest.fixture
def generous_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about counts, not speed: a slow machine must not trip the 1 s limit first."""
    monkeypatch.setattr(knobs, "QUERY_TIME_LIMIT_S", 120.0)


async def test_a_mutation_may_insert_16000_documents_and_not_one_more(core: Executor, generous_time: None) -> None:
    """§4.4: inserts are writes (limit 16,000), not read ranges (limit 4,096)."""
    assert await core.call("limits:insert_many", {"count": 16_000.0}) == 16_000.0
    assert core.database.count_documents("bulk") == 16_000
    refused = await core.run("limits:insert_many", {"count": 16_001.0})
    assert str(refused.error) == "Too many writes in a single function execution (limit: 16000)"
    assert core.database.count_documents("bulk") == 16_000


async def test_sizes_and_metrics_are_convex_sizes_in_float64(core: Executor) -> None:
    """§1.5 and §4.4: a document's size is getConvexSize with its system fields; metrics are float64.

    {"text": "hello", "n": 1} with a 32-character id: 2 + 38 (_id) + 23 (_creationTime)
    + 12 ("text": "hello") + 11 ("n": 1, an int64 counted 9) = 86 bytes.
    """
    metrics = await core.call("limits:insert_and_measure", {"value": {"text": "hello", "n": 1}})
    assert metrics["bytesWritten"] == {"used": 86.0, "remaining": float((16 << 20) - 86)}
    assert metrics["bytesRead"] == {"used": 86.0, "remaining": float((16 << 20) - 86)}
    assert metrics["documentsWritten"] == {"used": 1.0, "remaining": 15_999.0}
    # The get is one read range; the insert is none.
    assert metrics["databaseQueries"] == {"used": 1.0, "remaining": 4095.0}
    assert all(type(number) is float for metric in metrics.values() for number in metric.values())
    reads = await core.call("limits:measure_reads")
    assert reads["bytesRead"]["used"] == 86.0 and reads["documentsRead"]["used"] == 1.0


async def test_a_rolled_back_nested_mutation_gives_back_its_write_metrics(core: Executor) -> None:
    """§4.3: a nested mutation that fails is rolled back alone, and so is what it counted."""
    assert await core.call("limits:catch_failed_nested", {"count": 3.0}) == {"before": 0.0, "after": 0.0, "bytes": 0.0}
    assert core.database.count_documents("bulk") == 0
