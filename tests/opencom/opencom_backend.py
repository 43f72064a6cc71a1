"""The Opencom backend under test: the app on a fresh database through ``runtime.testing``, seeded
like Opencom's own suites.

``open_backend`` opens the repository's Opencom app in a ``ConvexTest`` harness (a temporary
database, time standing still until a test moves it with ``backend.t.advance_time``). Workspaces
and agents are seeded through the app's own internal mutations (``users:createOrUpdateUser``,
``users:addMembership``); visitors are created the way the widget creates them, through
``widgetSessions:boot``. Callers are identities (``Person.identity``) for agents and session
tokens for visitors; ``run``/``call`` call as a client would (public functions only).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime import ConvexError
from runtime.functions.executor import Executor, FunctionResult
from runtime.testing import ConvexTest

APP_ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


@dataclass(frozen=True)
class Person:
    """A signed-in agent: its user id and the identity the runtime hands to functions."""

    user_id: str
    email: str

    @property
    def identity(self) -> dict[str, Any]:
        issuer = "https://opencom.test"
        return {
            "subject": f"{self.user_id}|test-session",
            "issuer": issuer,
            "tokenIdentifier": f"{issuer}|{self.user_id}",
        }


@dataclass(frozen=True)
class Visitor:
    """A booted widget visitor: its id, its session token and its client-side session id."""

    visitor_id: str
    token: str
    session_id: str
    workspace_id: str


@dataclass
class Team:
    """A seeded workspace with its admin (the sign-up user) and any agents added later."""

    workspace_id: str
    admin: Person
    members: dict[str, Person] = field(default_factory=dict)


class Backend:
    """The Opencom app in one harness (``t``), with the seeding and calling helpers every test uses."""

    def __init__(self, t: ConvexTest | Executor) -> None:
        # An executor the caller opened: a harness on the real clock, its job runner running on its own.
        self.t = t if isinstance(t, ConvexTest) else ConvexTest.around(t)
        self.executor = self.t.executor

    def as_(self, person: Person | None) -> ConvexTest:
        """The harness acting as ``person`` (anonymous for None)."""
        return self.t if person is None else self.t.with_identity(person.identity)

    async def close(self) -> None:
        """Close the harness (and with it the executor, unless the caller opened that)."""
        await self.t.close()

    # --- calling ----------------------------------------------------------------------------
    async def run(self, path: str, args: dict[str, Any] | None = None, *, as_: Person | None = None) -> FunctionResult:
        """Run a public function as ``as_`` (an agent) or anonymously; never raises."""
        return await self.as_(as_).call(path, args or {}, public_only=True)

    async def call(self, path: str, args: dict[str, Any] | None = None, *, as_: Person | None = None) -> Any:
        """Run a public function and return its value (raising its error)."""
        return (await self.run(path, args, as_=as_)).unwrap()

    async def internal(self, path: str, args: dict[str, Any] | None = None) -> Any:
        """Run any function (internal ones included) as the deployment admin."""
        return (await self.t.call(path, args or {})).unwrap()

    async def refused(
        self, path: str, args: dict[str, Any] | None = None, *, as_: Person | None = None, code: str | None = None
    ) -> dict[str, Any]:
        """Run a call that must fail with a coded Opencom error; returns ``{code, message}``."""
        result = await self.run(path, args, as_=as_)
        assert isinstance(result.error, ConvexError), (
            f"{path} should be refused, got {result.value!r} / {result.error!r}"
        )
        data = result.error.data
        assert isinstance(data, dict) and {"code", "message"} <= data.keys(), data
        if code is not None:
            assert data["code"] == code, data
        return data

    def lib(self, name: str) -> ModuleType:
        """A module of ``functions/lib`` as the app loaded it (for unit tests of pure helpers)."""
        return self.executor.app.modules[f"lib/{name}"]

    # --- seeding ----------------------------------------------------------------------------
    async def seed_team(self, name: str | None = None) -> Team:
        """A workspace created by signing up its admin (Opencom's ``createTestWorkspace``)."""
        suffix = next(_counter)
        email = f"admin-{suffix}@test.opencom.dev"
        workspace_name = name or f"test-workspace-{suffix}"
        user_id = await self.internal(
            "users:createOrUpdateUser", {"email": email, "name": "Test Admin", "workspaceName": workspace_name}
        )
        user = await self.get(user_id)
        return Team(workspace_id=user["workspaceId"], admin=Person(user_id, email))

    async def add_member(self, team: Team, role: str = "agent", permissions: list[str] | None = None) -> Person:
        """A new user (with a workspace of its own) who is also ``role`` in ``team``'s workspace."""
        email = f"{role}-{next(_counter)}@test.opencom.dev"
        user_id = await self.internal("users:createOrUpdateUser", {"email": email, "name": f"Test {role}"})
        args: dict[str, Any] = {"userId": user_id, "workspaceId": team.workspace_id, "role": role}
        if permissions is not None:
            args["permissions"] = permissions
        await self.internal("users:addMembership", args)
        person = Person(user_id, email)
        team.members[role] = person
        return person

    async def boot(self, workspace_id: str, **fields: Any) -> Visitor:
        """Boot a widget session for a new browser (or the one ``sessionId`` names)."""
        session_id = fields.pop("sessionId", f"test-session-{next(_counter)}")
        booted = await self.call(
            "widgetSessions:boot", {"workspaceId": workspace_id, "sessionId": session_id, **fields}
        )
        return Visitor(booted["visitor"]["_id"], booted["sessionToken"], session_id, workspace_id)

    async def visitor_conversation(self, visitor: Visitor) -> str:
        """A new conversation started by ``visitor`` through the widget."""
        created = await self.call(
            "conversations:createForVisitor", {"workspaceId": visitor.workspace_id, "sessionToken": visitor.token}
        )
        return created["_id"]

    # --- raw database access (test-only) ----------------------------------------------------
    async def get(self, doc_id: str) -> dict[str, Any] | None:
        """Any document, system tables included."""
        return (await self.dump_ids()).get(doc_id)

    async def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's documents (and the scheduler's jobs)."""
        tables = tuple(self.executor.app.schema.tables)

        async def dump_tables(ctx: Any) -> dict[str, list[dict[str, Any]]]:
            dumped = {name: await ctx.db.query(name).collect() for name in tables}
            dumped["_scheduled_functions"] = await ctx.db.system.query("_scheduled_functions").collect()
            return dumped

        return await self.t.run(dump_tables)

    async def dump_ids(self) -> dict[str, dict[str, Any]]:
        return {doc["_id"]: doc for docs in (await self.dump()).values() for doc in docs}

    async def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Overwrite fields of one document: how tests make time pass (expired tokens, old logs)."""
        await self.t.run(lambda ctx: ctx.db.patch(doc_id, fields))

    async def delete(self, doc_id: str) -> None:
        """Delete one document: for "the referenced document is gone" cases."""
        await self.t.run(lambda ctx: ctx.db.delete(doc_id))

    async def missing_id(self, table: str, fields: dict[str, Any]) -> str:
        """A well-formed id of ``table`` whose document no longer exists."""
        doc_id = await self.insert(table, fields)
        await self.delete(doc_id)
        return doc_id

    async def insert(self, table: str, fields: dict[str, Any]) -> str:
        """Insert a raw document: for rows no implemented function writes yet (articles, old logs)."""
        return await self.t.run(lambda ctx: ctx.db.insert(table, fields))


async def open_backend(data_dir: Path | None = None) -> Backend:
    """The Opencom app on a fresh database: a temporary one, or ``data_dir`` (kept, e.g. for a server to serve)."""
    return Backend(await ConvexTest(APP_ROOT, data_dir=data_dir).open())
