"""The client's query set: which queries it wants, what the server holds, and their latest results.

Each distinct (path, arguments) pair is one ``LiveQuery`` with a query id that is never reused,
however many ``Subscription`` objects watch it. The set tracks the difference between what the
caller wants and what the current connection has been told, so that a subscription made while
disconnected, or a whole query set after a reconnect, goes out as one ``ModifyQuerySet``.
Results are kept across reconnects: the caller keeps seeing the last consistent state until the
new connection's first Transition replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from client import protocol
from client.errors import function_error
from runtime.values.values import Value, from_json, to_json

if TYPE_CHECKING:
    from client.subscription import Subscription


@dataclass
class QueryResult:
    """One query's outcome at some timestamp: a value, or the error it failed with."""

    value: Value = None
    error: Exception | None = None
    log_lines: list[str] = field(default_factory=list)

    def unwrap(self) -> Value:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class LiveQuery:
    """One (path, args) the client subscribes to, shared by all its ``Subscription`` objects."""

    query_id: int
    path: str
    args: dict[str, Value]
    token: str
    subscriptions: list[Subscription] = field(default_factory=list)
    result: QueryResult | None = None
    # The result as it came over the wire, so an unchanged result is recognised without decoding.
    wire_result: tuple[Any, ...] | None = None
    journal: str | None = None  # the server's journal of the last result, sent back when re-added


def query_token(path: str, encoded_args: Any) -> str:
    """The identity of a query: its canonical path plus its arguments in canonical JSON."""
    return path + "\0" + msgspec.json.encode(encoded_args, order="sorted").decode()


class QuerySet:
    """The queries wanted by the caller, and the modifications still owed to the server."""

    def __init__(self) -> None:
        self._by_token: dict[str, LiveQuery] = {}
        self._by_id: dict[int, LiveQuery] = {}
        self._next_id = 0
        # Per connection: the query set version the server has, and what it has not been told yet.
        self._version = 0
        self._unsent_adds: dict[int, LiveQuery] = {}
        self._unsent_removes: list[int] = []

    def lookup(self, path: str, args: dict[str, Value]) -> LiveQuery | None:
        """The live query for ``path`` and ``args``, if anyone subscribes to it."""
        return self._by_token.get(query_token(path, to_json(args)))

    def attach(self, path: str, args: dict[str, Value], subscription: Subscription) -> LiveQuery:
        """Add a subscriber, creating (and queueing the ``Add`` of) the query if it is new."""
        encoded = to_json(args)
        token = query_token(path, encoded)
        query = self._by_token.get(token)
        if query is None:
            query = LiveQuery(self._next_id, path, args, token)
            self._next_id += 1
            self._by_token[token] = query
            self._by_id[query.query_id] = query
            self._unsent_adds[query.query_id] = query
        query.subscriptions.append(subscription)
        return query

    def detach(self, query: LiveQuery, subscription: Subscription) -> None:
        """Drop a subscriber; the last one leaving removes the query from the server's set."""
        if subscription in query.subscriptions:
            query.subscriptions.remove(subscription)
        if query.subscriptions or self._by_token.get(query.token) is not query:
            return
        del self._by_token[query.token]
        del self._by_id[query.query_id]
        if self._unsent_adds.pop(query.query_id, None) is None:
            self._unsent_removes.append(query.query_id)

    def all_subscriptions(self) -> list[Subscription]:
        """Every live subscription, e.g. to end them when the client closes."""
        return [subscription for query in self._by_id.values() for subscription in query.subscriptions]

    def reset_for_connection(self) -> None:
        """A new connection starts with an empty set at version 0: every query must be re-added."""
        self._version = 0
        self._unsent_adds = dict(self._by_id)
        self._unsent_removes = []

    def take_modification(self) -> dict[str, Any] | None:
        """The ``ModifyQuerySet`` that brings the server up to date, or ``None`` if it is."""
        if not self._unsent_adds and not self._unsent_removes:
            return None
        modifications = [protocol.remove_query(query_id) for query_id in self._unsent_removes]
        modifications.extend(
            protocol.add_query(query.query_id, query.path, query.args, query.journal)
            for query in self._unsent_adds.values()
        )
        message = protocol.modify_query_set(self._version, modifications)
        self._version += 1
        self._unsent_adds = {}
        self._unsent_removes = []
        return message

    def apply(self, modifications: list[protocol.QueryModification]) -> list[LiveQuery]:
        """Store the results of one Transition; returns the queries whose result changed.

        Every result is decoded before any is stored, so a malformed one (which raises) leaves the
        held results untouched. Updates for queries the caller already dropped are ignored: removal
        is asynchronous, so the server may still report on them.
        """
        decoded: list[tuple[LiveQuery, str | None, tuple[Any, ...] | None, QueryResult | None]] = []
        for modification in modifications:
            if isinstance(modification, protocol.QueryRemoved):
                continue
            query = self._by_id.get(modification.query_id)
            if query is None:
                continue
            if isinstance(modification, protocol.QueryUpdated):
                wire: tuple[Any, ...] = ("ok", bytes(modification.value))
                if wire == query.wire_result:
                    decoded.append((query, modification.journal, None, None))
                    continue
                value = from_json(msgspec.json.decode(modification.value))
                result = QueryResult(value=value, log_lines=modification.log_lines)
            else:
                raw_data = modification.error_data
                error_data = msgspec.UNSET if raw_data is msgspec.UNSET else msgspec.json.decode(raw_data)
                wire = ("error", modification.error_message, None if raw_data is msgspec.UNSET else bytes(raw_data))
                if wire == query.wire_result:
                    decoded.append((query, modification.journal, None, None))
                    continue
                error = function_error(modification.error_message, error_data, modification.log_lines)
                result = QueryResult(error=error, log_lines=modification.log_lines)
            decoded.append((query, modification.journal, wire, result))
        changed: list[LiveQuery] = []
        for query, journal, new_wire, new_result in decoded:
            query.journal = journal
            if new_result is not None:
                query.wire_result = new_wire
                query.result = new_result
                changed.append(query)
        return changed
