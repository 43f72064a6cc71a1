"""The sync protocol as the client sees it: typed server frames, client frame builders, u64 stamps (``runtime.server.timestamps``).

Server frames are decoded into msgspec Structs (a tagged union on ``type``), so a malformed frame
is rejected in one place with a message naming the bad field; the connection treats that as a
protocol error and reconnects instead of acting on half-understood data. Values inside frames stay
as Convex-encoded JSON here; ``runtime.values.values.from_json`` turns them into Python values where they
are handed to the caller.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from runtime.server.timestamps import encode_ts
from runtime.values.values import to_json


class ProtocolError(Exception):
    """The server broke the protocol; the client drops the connection and establishes a new one."""


# --- server → client ---------------------------------------------------------------------------


class StateVersion(msgspec.Struct, rename="camel"):
    """The (query set, identity, timestamp) triple a Transition moves the client between."""

    query_set: int
    identity: int
    ts: str


class QueryUpdated(msgspec.Struct, tag="QueryUpdated", rename="camel"):
    """A new successful result of one query of the set."""

    query_id: int
    value: msgspec.Raw  # kept raw: an unchanged result is then recognised by comparing bytes
    log_lines: list[str]
    journal: str | None = None


class QueryFailed(msgspec.Struct, tag="QueryFailed", rename="camel"):
    """A query of the set now fails; ``error_data`` is present only for a ConvexError."""

    query_id: int
    error_message: str
    log_lines: list[str]
    error_data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    journal: str | None = None


class QueryRemoved(msgspec.Struct, tag="QueryRemoved", rename="camel"):
    """The server dropped a query the client removed."""

    query_id: int


QueryModification = QueryUpdated | QueryFailed | QueryRemoved


class Transition(msgspec.Struct, tag="Transition", rename="camel"):
    """Results that all belong to ``end_version.ts``; applied as one unit."""

    start_version: StateVersion
    end_version: StateVersion
    modifications: list[QueryModification]
    client_clock_skew: float | None = None
    server_ts: float | None = None


class MutationResponse(msgspec.Struct, tag="MutationResponse", rename="camel"):
    """Outcome of one mutation: ``result`` is the value on success, the error message on failure."""

    request_id: int
    success: bool
    result: Any
    log_lines: list[str]
    ts: str | None = None
    error_data: Any = msgspec.UNSET


class ActionResponse(msgspec.Struct, tag="ActionResponse", rename="camel"):
    """Outcome of one action, shaped like ``MutationResponse`` without a timestamp."""

    request_id: int
    success: bool
    result: Any
    log_lines: list[str]
    error_data: Any = msgspec.UNSET


class AuthError(msgspec.Struct, tag="AuthError", rename="camel"):
    """The server refused (or expired) the identity; it closes the socket after sending this."""

    error: str
    base_version: int | None = None
    auth_update_attempted: bool | None = None


class FatalError(msgspec.Struct, tag="FatalError", rename="camel"):
    """A protocol violation the server blames on the client; the socket closes next."""

    error: str


class Ping(msgspec.Struct, tag="Ping"):
    """Keep-alive that only proves the server is still there."""


ServerMessage = Transition | MutationResponse | ActionResponse | AuthError | FatalError | Ping

_decoder: Final[msgspec.json.Decoder[ServerMessage]] = msgspec.json.Decoder(ServerMessage)


def decode_server_message(frame: str | bytes) -> ServerMessage:
    """Parse one text frame; raises ``msgspec.ValidationError``/``DecodeError`` if it is malformed."""
    return _decoder.decode(frame)


# --- client → server ---------------------------------------------------------------------------

_encoder: Final = msgspec.json.Encoder()


def encode_frame(message: dict[str, Any]) -> str:
    """Serialise one client message (already in wire form) as a text frame."""
    return _encoder.encode(message).decode()


def connect_message(
    session_id: str, connection_count: int, last_close_reason: str, max_observed_ts: int | None, client_ts_ms: int
) -> dict[str, Any]:
    """The first frame of every connection; the session id stays the same across reconnects."""
    message: dict[str, Any] = {
        "type": "Connect",
        "sessionId": session_id,
        "connectionCount": connection_count,
        "lastCloseReason": last_close_reason,
        "clientTs": client_ts_ms,
    }
    if max_observed_ts is not None:
        message["maxObservedTimestamp"] = encode_ts(max_observed_ts)
    return message


def add_query(query_id: int, udf_path: str, args: dict[str, Any], journal: str | None = None) -> dict[str, Any]:
    """A ``ModifyQuerySet`` modification adding one query (arguments travel as a one-element array).

    ``journal`` is what the server returned with the query's last result, if any: handing it back
    lets a re-added paginated query end its page where it ended before.
    """
    return {"type": "Add", "queryId": query_id, "udfPath": udf_path, "args": [to_json(args)], "journal": journal}


def remove_query(query_id: int) -> dict[str, Any]:
    """A ``ModifyQuerySet`` modification removing one query."""
    return {"type": "Remove", "queryId": query_id}


def modify_query_set(base_version: int, modifications: list[dict[str, Any]]) -> dict[str, Any]:
    """One step of the query set, from ``base_version`` to ``base_version + 1``."""
    return {
        "type": "ModifyQuerySet",
        "baseVersion": base_version,
        "newVersion": base_version + 1,
        "modifications": modifications,
    }


def request_message(kind: str, request_id: int, udf_path: str, encoded_args: Any) -> dict[str, Any]:
    """A ``Mutation`` or ``Action`` frame; ``encoded_args`` is the argument object already in wire JSON."""
    return {"type": kind, "requestId": request_id, "udfPath": udf_path, "args": [encoded_args]}


def authenticate_message(base_version: int, token: str | None) -> dict[str, Any]:
    """Set (``token``) or clear (``None``) the identity of this connection."""
    if token is None:
        return {"type": "Authenticate", "baseVersion": base_version, "tokenType": "None"}
    return {"type": "Authenticate", "baseVersion": base_version, "tokenType": "User", "value": token}
