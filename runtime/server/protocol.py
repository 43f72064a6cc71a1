"""The Convex sync protocol's frames as typed values (convex-protocol §3, §4).

Client frames decode into tagged-union Structs, so a malformed frame is refused with an error that
names the path of the bad field (``Expected `int` >= 0 - at `$.requestId```) before any handler
sees it. Server frames are Structs too: encoding them can never drop a required field such as
``logLines``, and ``UNSET`` fields (``errorData``, ``clientClockSkew``) are omitted, as the clients
expect. Query values travel as ``msgspec.Raw``: a result shared by many connections is serialized
once, then spliced into every Transition that carries it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from runtime.server.timestamps import encode_ts
from runtime.values.validators import single_argument, validate_args
from runtime.values.values import Value, from_json

U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]


# --- client → server --------------------------------------------------------------------------
class _ClientFrame(msgspec.Struct, tag_field="type"):
    """Common base: every client frame is a JSON object tagged by ``type``."""


class Connect(_ClientFrame, tag="Connect"):
    sessionId: str
    connectionCount: U32 = 0
    lastCloseReason: str | None = None
    maxObservedTimestamp: str | None = None
    clientTs: float | None = None


class Add(msgspec.Struct, tag="Add", tag_field="type"):
    queryId: U32
    udfPath: str
    args: list[Any]
    journal: str | None = None
    componentPath: str | None = None


class Remove(msgspec.Struct, tag="Remove", tag_field="type"):
    queryId: U32


class ModifyQuerySet(_ClientFrame, tag="ModifyQuerySet"):
    baseVersion: U32
    newVersion: U32
    modifications: list[Add | Remove]


class Mutation(_ClientFrame, tag="Mutation"):
    requestId: U32
    udfPath: str
    args: list[Any]
    componentPath: str | None = None


class Action(_ClientFrame, tag="Action"):
    requestId: U32
    udfPath: str
    args: list[Any]
    componentPath: str | None = None


class Authenticate(_ClientFrame, tag="Authenticate"):
    baseVersion: U32
    tokenType: str
    value: str | None = None
    impersonating: dict[str, Any] | None = None
    acting_as: dict[str, Any] | None = None  # the Rust client's name for ``impersonating``


class Event(_ClientFrame, tag="Event"):
    eventType: str = ""
    event: Any = None


ClientMessage = Connect | ModifyQuerySet | Mutation | Action | Authenticate | Event

_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)


class ProtocolError(Exception):
    """A frame the client should never have sent; answered with ``FatalError`` and a close."""


def decode_client_message(data: str | bytes) -> ClientMessage:
    """Parse one client frame, or raise ``ProtocolError`` saying what is wrong and where."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"Invalid message: {error}") from None
    except RecursionError:
        raise ProtocolError("Invalid message: nested too deeply") from None


def function_args(args: list[Any]) -> dict[str, Value]:
    """The argument object of a call, which travels as a one-element array of Convex JSON."""
    value = from_json(single_argument(args))
    if isinstance(value, dict):
        return value
    return validate_args(None, value, None)  # raises Convex's ArgumentValidationError


# --- server → client --------------------------------------------------------------------------
class StateVersion(msgspec.Struct, frozen=True):
    querySet: int
    identity: int
    ts: str


INITIAL_VERSION = StateVersion(0, 0, encode_ts(0))


class _ServerFrame(msgspec.Struct, tag_field="type", omit_defaults=True):
    """Common base of server frames; fields left ``UNSET`` are not sent."""


class QueryUpdated(_ServerFrame, tag="QueryUpdated"):
    queryId: int
    value: Raw
    logLines: list[str]
    journal: str | None


class QueryFailed(_ServerFrame, tag="QueryFailed"):
    queryId: int
    errorMessage: str
    logLines: list[str]
    journal: str | None
    errorData: Raw | UnsetType = UNSET


class QueryRemoved(_ServerFrame, tag="QueryRemoved"):
    queryId: int


Modification = QueryUpdated | QueryFailed | QueryRemoved


class Transition(_ServerFrame, tag="Transition"):
    startVersion: StateVersion
    endVersion: StateVersion
    modifications: list[Modification]
    serverTs: int | UnsetType = UNSET
    clientClockSkew: float | UnsetType = UNSET


class MutationResponse(_ServerFrame, tag="MutationResponse"):
    requestId: int
    success: bool
    result: Raw | str
    ts: str | None
    logLines: list[str]
    errorData: Raw | UnsetType = UNSET


class ActionResponse(_ServerFrame, tag="ActionResponse"):
    requestId: int
    success: bool
    result: Raw | str
    logLines: list[str]
    errorData: Raw | UnsetType = UNSET


class AuthError(_ServerFrame, tag="AuthError"):
    error: str
    baseVersion: int
    authUpdateAttempted: bool


class FatalError(_ServerFrame, tag="FatalError"):
    error: str


class Ping(_ServerFrame, tag="Ping"):
    pass


ServerMessage = Transition | MutationResponse | ActionResponse | AuthError | FatalError | Ping

_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct | Any) -> bytes:
    """Serialize a server frame (or any plain JSON-able value) to JSON bytes."""
    return _encoder.encode(message)
