"""``ctx.connection``: what a function may learn about the network connection calling it.

Two things, both generic (the runtime gives them no meaning):

- **Proofs.** A mutation that checked a secret (a session token, say) records what the caller
  proved with ``ctx.connection.prove(kind, value)``. The record is applied to the WebSocket
  connection the mutation came in on, and only if the mutation commits (a nested mutation that
  raises takes its proofs with it). Later queries and mutations on that same connection ask
  ``ctx.connection.has_proven(kind, value)`` or list ``ctx.connection.proven(kind)``, so a client
  that proved a secret once need not send it with every call, while the same arguments from
  any other connection prove nothing. A connection holds at most ``knobs.SYNC_MAX_CONNECTION_PROOFS``
  (the oldest are forgotten first). The server keys live query results by the connection's
  proofs and re-runs its queries when they change. Over HTTP, in scheduled functions and in
  actions there is no connection to remember anything: nothing is proven and ``prove`` is
  forgotten. Values are strings; an app that stores something revocable (a session) should
  prove the revocable row's id and check the row on use, so revoking it ends the proof.
- **The client's address** (``ctx.connection.client_address``, mutations and actions only):
  the remote address of the WebSocket or HTTP request, for limits per client. Queries do not get
  it, since one cached query result is shared by every connection with the same proofs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime import knobs
from runtime.values.errors import ConvexValueError

Proof = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Connection:
    """The caller's connection as the server hands it to the executor: its proofs and address."""

    proofs: tuple[Proof, ...] = ()  # oldest first, no duplicates
    client_address: str | None = None

    def with_proofs(self, new: tuple[Proof, ...]) -> Connection:
        """This connection after a commit proved ``new`` (bounded, newest kept)."""
        merged = list(self.proofs)
        for proof in new:
            if proof in merged:
                merged.remove(proof)
            merged.append(proof)
        return Connection(tuple(merged[-knobs.SYNC_MAX_CONNECTION_PROOFS :]), self.client_address)

    @property
    def key(self) -> tuple[Proof, ...]:
        """What a cached query result depends on: the set of proofs, in a canonical order."""
        return tuple(sorted(set(self.proofs)))


NO_CONNECTION = Connection()


@dataclass
class ProofRecorder:
    """The proofs one mutation (and its nested mutations) recorded, until it commits."""

    recorded: list[Proof] = field(default_factory=list)

    def mark(self) -> int:
        return len(self.recorded)

    def roll_back(self, mark: int) -> None:
        """Forget what a nested mutation that raised recorded after ``mark``."""
        del self.recorded[mark:]


def _proof(kind: object, value: object) -> Proof:
    if not isinstance(kind, str) or not isinstance(value, str):
        raise ConvexValueError("ctx.connection proofs are (kind, value) pairs of strings")
    return kind, value


class ConnectionReader:
    """``ctx.connection`` of a query: the proofs of the caller's connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def has_proven(self, kind: str, value: str) -> bool:
        """Whether a committed mutation on this connection proved ``(kind, value)``."""
        return _proof(kind, value) in self._connection.proofs

    def proven(self, kind: str) -> list[str]:
        """Every value of ``kind`` this connection proved, sorted (the same answer wherever it is asked)."""
        _proof(kind, "")
        return sorted(value for proven_kind, value in self._connection.proofs if proven_kind == kind)


class ConnectionWriter(ConnectionReader):
    """``ctx.connection`` of a mutation: also ``prove`` and the client's address."""

    def __init__(self, connection: Connection, recorder: ProofRecorder) -> None:
        super().__init__(connection)
        self._recorder = recorder

    def prove(self, kind: str, value: str) -> None:
        """Record that the caller proved ``(kind, value)``; applied to its connection if this mutation commits."""
        self._recorder.recorded.append(_proof(kind, value))

    @property
    def client_address(self) -> str | None:
        """The remote address of the caller's connection or request (None when run by the server itself)."""
        return self._connection.client_address


class ActionConnection:
    """``ctx.connection`` of an action: only the client's address (an action's calls prove nothing)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def client_address(self) -> str | None:
        """The remote address of the caller's connection or request (None when run by the server itself)."""
        return self._connection.client_address
