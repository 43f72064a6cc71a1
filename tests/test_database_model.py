"""``ctx.db`` against a plain in-memory model, through the executor (convex-semantics §3).

A hypothesis state machine inserts, patches (removing fields with ``UNDEFINED``), replaces,
deletes and gets documents of the core app's ``items`` table, and runs indexed range queries
(every bound kind, both orders, filters, take/first/unique) and whole pagination walks. After
every query the runtime must return exactly what the model computes from a list of documents
sorted in Convex's total order.
"""

from __future__ import annotations

import asyncio
import functools
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from runtime.database.database import Database
from runtime.functions.app_loader import load_app
from runtime.functions.executor import Executor
from runtime.values.values import UNDEFINED, compare_values
from tests.store_fixtures import Stores, reset_postgres
from tests.strategies import bit_exact_equal

APP = load_app(Path(__file__).parent / "apps" / "core")

# A small domain, so that equal values, ties and cross-type comparisons happen often.
VALUES: list[Any] = [
    *(None, -1, 0, 1, -0.0, 0.0, 1.0, math.nan, False, True, [1], {"x": 1}),
    # Strings and bytes where one value's key bytes start with another's ("a" and "a\x00").
    *("", "a", "a\x00", "b", b"", b"\x00", b"\x00\x00"),
]
values = st.sampled_from(VALUES)
values_or_missing = st.one_of(st.just(UNDEFINED), values)
nested = st.one_of(st.just(UNDEFINED), st.just({}), st.just(5), st.builds(lambda x: {"x": x}, values))

INDEXES: dict[str, tuple[str, ...]] = {
    "by_creation_time": (),
    "by_a": ("a",),
    "by_a_b": ("a", "b"),
    "by_nx": ("n.x",),
}
FILTER_OPS = ["eq", "neq", "lt", "lte", "gt", "gte"]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "a": draw(values_or_missing),
        "b": draw(values_or_missing),
        "n": draw(nested),
        "c": draw(values_or_missing),
    }
    return {name: value for name, value in fields.items() if value is not UNDEFINED}


def operand(step: dict[str, Any], value: Any) -> dict[str, Any]:
    """A ``{op, field, value?}`` step; ``undefined`` travels as an absent ``value``."""
    return step if value is UNDEFINED else {**step, "value": value}


@st.composite
def query_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A query over ``items``: an index, a legal range on it (steps in any order), order, filters."""
    index = draw(st.sampled_from(sorted(INDEXES)))
    fields = INDEXES[index]
    equalities = draw(st.integers(0, len(fields)))
    steps = [operand({"op": "eq", "field": field}, draw(values_or_missing)) for field in fields[:equalities]]
    bounded = fields[equalities] if equalities < len(fields) else None
    if bounded is not None:
        lower = draw(st.sampled_from([None, "gt", "gte"]))
        upper = draw(st.sampled_from([None, "lt", "lte"]))
        for op in (lower, upper):
            if op is not None:
                steps.append(operand({"op": op, "field": bounded}, draw(values_or_missing)))
    spec: dict[str, Any] = {"table": "items", "index": index, "range": draw(st.permutations(steps))}
    order = draw(st.sampled_from([None, "asc", "desc"]))
    if order is not None:
        spec["order"] = order
    filters = draw(
        st.lists(
            st.tuples(st.sampled_from(FILTER_OPS), st.sampled_from(["a", "b", "c", "n.x"]), values_or_missing),
            max_size=2,
        )
    )
    spec["filters"] = [operand({"op": op, "field": field}, value) for op, field, value in filters]
    return spec


# --- the model ---------------------------------------------------------------------------------


def model_field(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return UNDEFINED
        value = value[part]
    return value


def model_key(document: dict[str, Any], fields: tuple[str, ...]) -> list[Any]:
    return [*(model_field(document, field) for field in fields), document["_creationTime"], document["_id"]]


def _holds(op: str, order: int) -> bool:
    return {
        "eq": order == 0,
        "neq": order != 0,
        "lt": order < 0,
        "lte": order <= 0,
        "gt": order > 0,
        "gte": order >= 0,
    }[op]


def model_query(documents: dict[str, dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """What the spec selects from ``documents``, in order, before any terminal."""
    fields = INDEXES[spec["index"]]

    def selected(document: dict[str, Any]) -> bool:
        for step in spec["range"]:
            order = compare_values(model_field(document, step["field"]), step.get("value", UNDEFINED))
            if not _holds(step["op"], order):
                return False
        for step in spec["filters"]:
            order = compare_values(model_field(document, step["field"]), step.get("value", UNDEFINED))
            if not _holds(step["op"], order):
                return False
        return True

    by_key = functools.cmp_to_key(lambda x, y: compare_values(model_key(x, fields), model_key(y, fields)))
    rows = sorted((document for document in documents.values() if selected(document)), key=by_key)
    return rows[::-1] if spec.get("order") == "desc" else rows


def same_documents(actual: Any, expected: Any) -> bool:
    return bit_exact_equal(actual, expected)


# --- the machine -------------------------------------------------------------------------------


class DatabaseModel(RuleBasedStateMachine):
    """The runtime's ``items`` table and a dict of documents, kept in lock step."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = Path(tempfile.mkdtemp(prefix="opencom-model-"))
        # Durability is not under test here, and fsyncs would dominate the run time.
        self.executor = Executor(APP, self.open_database(self.directory))
        self.model: dict[str, dict[str, Any]] = {}

    def open_database(self, directory: Path) -> Database:
        """A new empty database (SQLite here; the PostgreSQL run overrides it)."""
        return Database(directory, APP.schema, synchronous="OFF")

    def teardown(self) -> None:
        self.loop.run_until_complete(self.executor.close())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def run(self, path: str, args: dict[str, Any]) -> Any:
        result = self.loop.run_until_complete(self.executor.run(path, args))
        return result

    def apply(self, *steps: dict[str, Any]) -> Any:
        return self.run("db:apply", {"steps": list(steps)})

    @initialize(target=ids, first=st.lists(documents(), min_size=1, max_size=3))
    def start(self, first: list[dict[str, Any]]) -> Any:
        assert self.run("db:select", {"table": "items"}).unwrap() == []
        return multiple(*(self.insert(document) for document in first))

    @rule(target=ids, document=documents())
    def insert(self, document: dict[str, Any]) -> str:
        result = self.apply({"op": "insert", "table": "items", "value": document}, {"op": "get", "ref": 0})
        doc_id, stored = result.unwrap()
        assert same_documents({k: v for k, v in stored.items() if not k.startswith("_")}, document)
        assert stored["_id"] == doc_id
        assert all(stored["_creationTime"] > other["_creationTime"] for other in self.model.values())
        self.model[doc_id] = stored
        return doc_id

    @rule(doc_id=ids, fields=documents(), remove=st.lists(st.sampled_from(["a", "b", "c", "n", "absent"]), max_size=2))
    def patch(self, doc_id: str, fields: dict[str, Any], remove: list[str]) -> None:
        fields = {name: value for name, value in fields.items() if name not in remove}
        result = self.apply({"op": "patch", "id": doc_id, "value": fields, "remove": remove})
        if doc_id not in self.model:
            assert f"Update on nonexistent document ID {doc_id}" in str(result.error)
            return
        result.unwrap()
        document = self.model[doc_id]
        document.update(fields)
        for name in remove:
            document.pop(name, None)

    @rule(doc_id=ids, document=documents())
    def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        result = self.apply({"op": "replace", "id": doc_id, "value": document})
        if doc_id not in self.model:
            assert f"Replace on nonexistent document ID {doc_id}" in str(result.error)
            return
        result.unwrap()
        old = self.model[doc_id]
        self.model[doc_id] = {"_id": old["_id"], "_creationTime": old["_creationTime"], **document}

    @rule(doc_id=consumes(ids))
    def delete(self, doc_id: str) -> None:
        result = self.apply({"op": "delete", "id": doc_id})
        if doc_id not in self.model:
            assert f"Delete on nonexistent document ID {doc_id}" in str(result.error)
            return
        result.unwrap()
        del self.model[doc_id]

    @rule(doc_id=ids)
    def delete_twice_fails(self, doc_id: str) -> None:
        """Deleting, then touching the same id in one mutation fails, and the delete is rolled back."""
        result = self.apply({"op": "delete", "id": doc_id}, {"op": "delete", "id": doc_id})
        assert "Delete on nonexistent document ID" in str(result.error)

    @rule(doc_id=ids)
    def get(self, doc_id: str) -> None:
        found = self.run("db:get", {"id": doc_id}).unwrap()
        assert same_documents(found, self.model.get(doc_id))

    @rule(
        spec=query_specs(),
        terminal=st.sampled_from(["collect", "take", "first", "unique", "iterate"]),
        n=st.integers(0, 4),
    )
    def select(self, spec: dict[str, Any], terminal: str, n: int) -> None:
        expected = model_query(self.model, spec)
        result = self.run("db:select", {**spec, "terminal": terminal, "n": n})
        if terminal == "collect":
            assert same_documents(result.unwrap(), expected)
        elif terminal in ("take", "iterate"):
            assert same_documents(result.unwrap(), expected[: max(n, 1) if terminal == "iterate" else n])
        elif terminal == "first":
            assert same_documents(result.unwrap(), expected[0] if expected else None)
        elif len(expected) > 1:
            assert "unique() query returned more than one result from table items" in str(result.error)
        else:
            assert same_documents(result.unwrap(), expected[0] if expected else None)

    @rule(doc_id=ids, fields=documents(), spec=query_specs())
    def read_your_writes(self, doc_id: str, fields: dict[str, Any], spec: dict[str, Any]) -> None:
        """Inside one mutation a query sees the mutation's own patch, positioned by its new keys."""
        result = self.apply({"op": "patch", "id": doc_id, "value": fields}, {"op": "select", "spec": spec})
        if doc_id not in self.model:
            assert "Update on nonexistent document ID" in str(result.error)
            return
        self.model[doc_id].update(fields)
        assert same_documents(result.unwrap()[1], model_query(self.model, spec))

    @rule(spec=query_specs(), num_items=st.integers(1, 4), max_rows=st.one_of(st.none(), st.integers(1, 3)))
    def paginate_to_the_end(self, spec: dict[str, Any], num_items: int, max_rows: int | None) -> None:
        expected = model_query(self.model, spec)
        seen: list[dict[str, Any]] = []
        cursor = None
        for _ in range(len(self.model) + 2):
            options: dict[str, Any] = {"numItems": num_items, "cursor": cursor}
            if max_rows is not None:
                options["maximumRowsRead"] = max_rows
            page = self.run("db:select", {**spec, "terminal": "paginate", "opts": options}).unwrap()
            assert len(page["page"]) <= num_items
            if max_rows is not None:
                assert len(page["page"]) <= max_rows
            seen.extend(page["page"])
            cursor = page["continueCursor"]
            if page["isDone"]:
                break
        else:
            pytest.fail("pagination did not finish")
        assert same_documents(seen, expected)

    @invariant()
    def table_matches_model(self) -> None:
        everything = self.run("db:select", {"table": "items"}).unwrap()
        by_creation = sorted(self.model.values(), key=lambda document: document["_creationTime"])
        assert same_documents(everything, by_creation)


DatabaseModel.TestCase.settings = settings(
    max_examples=75,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestDatabaseModel = DatabaseModel.TestCase


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_the_model_holds_on_postgresql(store_kind: Stores, tmp_path: Path) -> None:
    url = store_kind.url_for(tmp_path)
    assert url is not None

    class OnPostgres(DatabaseModel):
        def open_database(self, directory: Path) -> Database:
            reset_postgres(url)
            return Database(directory, APP.schema, database_url=url)

    # Fewer examples than on SQLite: each one empties and re-creates the PostgreSQL schema.
    run_state_machine_as_test(OnPostgres, settings=settings(DatabaseModel.TestCase.settings, max_examples=25))
