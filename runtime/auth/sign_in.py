"""Email + password sign-in on the deployment's own issuer, in the shape of Convex Auth.

An app's ``functions/auth.py``::

    from runtime.auth import ConvexAuth, Password

    auth = ConvexAuth(providers=[Password()], create_or_update_user=create_or_update_user)
    sign_in = auth.sign_in                    # action   auth:signIn
    sign_out = auth.sign_out                  # action   auth:signOut
    store = auth.store                        # internal auth:store
    is_authenticated = auth.is_authenticated  # query    auth:isAuthenticated

``auth:signIn`` takes ``{provider: "password", params: {flow: "signUp" | "signIn", email,
password, ...}}`` or ``{refreshToken}`` and returns ``{tokens: {token, refreshToken}}`` (``tokens``
is null when a refresh token is no longer valid). The app's ``auth_config.py`` must list
``BuiltinProvider()`` for the tokens to be accepted.

Sign-in is an **action** that calls one internal mutation (``store``) for every database step:
hashing a password costs ~100 ms of CPU on purpose, and in a mutation that time would be spent on
the event loop while holding the single writer, stalling every other mutation and subscription.
An action hashes in a worker thread and holds the writer only for short steps. It also keeps the
signing key out of queries and mutations (it is reachable only as ``ctx.auth.issuer`` in actions),
and matches Convex Auth, whose clients call ``auth:signIn`` as an action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runtime import knobs
from runtime.auth import passwords, rate_limit, sessions
from runtime.functions.definitions import FunctionDefinition, action, internal_mutation, query
from runtime.tokens.errors import auth_failure
from runtime.values.errors import ConvexError
from runtime.values.validators import v

if TYPE_CHECKING:
    from runtime.functions.context import ActionCtx, MutationCtx, QueryCtx


class CreateOrUpdateUser(Protocol):
    """The hook that owns the ``users`` table: called in the sign-in transaction, returns the user id.

    ``existing_user_id`` is the account's user on sign-in and None on sign-up; ``profile`` is what
    the provider's ``profile`` function made of the sign-in parameters. On a sign-up the hook must
    not hand back a user that already exists under that email unless the caller proved it owns
    that user (a signed-in session of it, ``ctx.auth``): a password sign-up proves nothing about
    the address, so it raises ``account_taken()`` instead.
    """

    def __call__(
        self, ctx: MutationCtx, *, existing_user_id: str | None, provider: str, profile: dict[str, Any]
    ) -> Awaitable[str]: ...


async def insert_or_keep_user(
    ctx: MutationCtx, *, existing_user_id: str | None, provider: str, profile: dict[str, Any]
) -> str:
    """The default hook: keep an existing user as is; insert a new one with the profile's fields."""
    if existing_user_id is not None:
        return existing_user_id
    return str(await ctx.db.insert("users", dict(profile)))


INVALID_CREDENTIALS = "InvalidSecret"
INVALID_CREDENTIALS_MESSAGE = "Invalid email or password"
_DUMMY_SECRET: list[str] = []  # a hash to check unknown accounts' passwords against (built on first use)


def account_taken() -> ConvexError:
    """The one refusal of a sign-up on an email that already has an account, whatever its sign-in methods."""
    return auth_failure("AccountAlreadyExists", "An account with this email already exists")


def invalid_credentials() -> ConvexError:
    """The one refusal of a password sign-in: unknown account, password-less account and wrong password alike."""
    return auth_failure(INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)


def _dummy_secret() -> str:
    if not _DUMMY_SECRET:
        _DUMMY_SECRET.append(passwords.hash_password("no account has this password"))
    return _DUMMY_SECRET[0]


def email_profile(params: dict[str, Any]) -> dict[str, Any]:
    """The default profile: the email, trimmed and lower-cased (so one address is one account)."""
    email = params.get("email")
    return {"email": email.strip().lower() if isinstance(email, str) else email}


@dataclass(frozen=True)
class Password:
    """The ``"password"`` provider: accounts keyed by the profile's email, secrets hashed with scrypt.

    ``profile(params)`` turns the client's params into the profile (must include ``email``); the
    password itself never enters the profile, a mutation's arguments, the database or a log.
    """

    id: str = "password"
    profile: Callable[[dict[str, Any]], dict[str, Any]] = email_profile

    def make_profile(self, params: dict[str, Any]) -> dict[str, Any]:
        """The profile of ``params``, without the password, with a non-empty ``email``."""
        profile = {key: value for key, value in self.profile(params).items() if key not in ("password", "flow")}
        if not isinstance(profile.get("email"), str) or not profile["email"]:
            raise auth_failure("InvalidAccountId", "Email is required")
        return profile

    @staticmethod
    def password(params: dict[str, Any], *, new: bool) -> str:
        """The password in ``params``; a new one must be at least ``AUTH_MIN_PASSWORD_LENGTH`` characters."""
        password = params.get("password")
        if not isinstance(password, str) or not password:
            raise auth_failure("InvalidPassword", "Password is required")
        if new and len(password) < knobs.AUTH_MIN_PASSWORD_LENGTH:
            raise auth_failure(
                "InvalidPassword", f"Invalid password: use at least {knobs.AUTH_MIN_PASSWORD_LENGTH} characters"
            )
        return password


_SIGN_IN_ARGS = {
    "provider": v.optional(v.string()),
    "params": v.optional(v.record(v.string(), v.any())),
    "refreshToken": v.optional(v.string()),
}
_STORE_ARGS = v.union(
    v.object(
        {
            "type": v.literal("signUp"),
            "provider": v.string(),
            "profile": v.record(v.string(), v.any()),
            "secret": v.string(),
            "refreshSecretHash": v.string(),
        }
    ),
    v.object({"type": v.literal("retrieveAccount"), "provider": v.string(), "accountId": v.string()}),
    v.object(
        {
            "type": v.literal("signIn"),
            "provider": v.string(),
            "accountId": v.string(),
            "userId": v.id("users"),
            "profile": v.record(v.string(), v.any()),
            "refreshSecretHash": v.string(),
        }
    ),
    v.object(
        {
            "type": v.literal("refreshSession"),
            "refreshTokenId": v.string(),
            "secretHash": v.string(),
            "newSecretHash": v.string(),
        }
    ),
    v.object({"type": v.literal("signOut"), "sessionId": v.id("authSessions")}),
)


class ConvexAuth:
    """The sign-in functions of an app (see the module docstring for how an app exports them)."""

    sign_in: FunctionDefinition
    sign_out: FunctionDefinition
    store: FunctionDefinition
    is_authenticated: FunctionDefinition

    def __init__(
        self, *, providers: Sequence[Password], create_or_update_user: CreateOrUpdateUser = insert_or_keep_user
    ) -> None:
        self.providers = {provider.id: provider for provider in providers}
        if not self.providers:
            raise ValueError("ConvexAuth needs at least one provider, e.g. providers=[Password()]")
        self.create_or_update_user = create_or_update_user
        self.sign_in = action(name="signIn", args=_SIGN_IN_ARGS)(self._sign_in)
        self.sign_out = action(name="signOut", args={})(self._sign_out)
        self.store = internal_mutation(name="store", args={"args": _STORE_ARGS})(self._store)
        self.is_authenticated = query(name="isAuthenticated", args={})(self._is_authenticated)

    # --- auth:signIn ------------------------------------------------------------------------
    async def _sign_in(self, ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
        secret, secret_hash = sessions.new_refresh_secret()
        if "refreshToken" in args:
            session = await self._refresh(ctx, args["refreshToken"], secret_hash)
        else:
            provider = self.providers.get(args.get("provider", ""))
            if provider is None:
                raise auth_failure("InvalidProvider", f"Provider {args.get('provider')!r} is not configured")
            params = args.get("params", {})
            if params.get("flow") == "signUp":
                session = await self._sign_up(ctx, provider, params, secret_hash)
            elif params.get("flow") == "signIn":
                session = await self._sign_in_with_password(ctx, provider, params, secret_hash)
            else:
                raise auth_failure("InvalidFlow", 'params.flow must be "signUp" or "signIn"')
        return {"tokens": None if session is None else session_tokens(ctx, session, secret)}

    async def _sign_up(
        self, ctx: ActionCtx, provider: Password, params: dict[str, Any], secret_hash: str
    ) -> dict[str, str] | None:
        profile = provider.make_profile(params)
        hashed = await asyncio.to_thread(passwords.hash_password, provider.password(params, new=True))
        step = {"type": "signUp", "provider": provider.id, "profile": profile, "secret": hashed}
        return await self._session_step(ctx, {**step, "refreshSecretHash": secret_hash})

    async def _sign_in_with_password(
        self, ctx: ActionCtx, provider: Password, params: dict[str, Any], secret_hash: str
    ) -> dict[str, str] | None:
        profile = provider.make_profile(params)
        password = provider.password(params, new=False)
        account = await self._step(
            ctx, {"type": "retrieveAccount", "provider": provider.id, "accountId": profile["email"]}
        )
        # An unknown account costs the same hash check as a wrong password: neither its error nor
        # its timing tells a stranger which emails have accounts.
        stored = account["secret"] if account is not None else await asyncio.to_thread(_dummy_secret)
        if not await asyncio.to_thread(passwords.verify_password, password, stored) or account is None:
            raise invalid_credentials()
        step = {"type": "signIn", "provider": provider.id, "accountId": profile["email"], "userId": account["userId"]}
        return await self._session_step(ctx, {**step, "profile": profile, "refreshSecretHash": secret_hash})

    async def _refresh(self, ctx: ActionCtx, refresh_token: str, secret_hash: str) -> dict[str, str] | None:
        parsed = sessions.parse_refresh_token(refresh_token)
        if parsed is None:
            return None
        token_id, secret = parsed
        step = {"type": "refreshSession", "refreshTokenId": token_id, "secretHash": sessions.hash_secret(secret)}
        return await self._session_step(ctx, {**step, "newSecretHash": secret_hash})

    async def _step(self, ctx: ActionCtx, step: dict[str, Any]) -> Any:
        return await ctx.run_mutation(self.store, {"args": step})

    async def _session_step(self, ctx: ActionCtx, step: dict[str, Any]) -> dict[str, str] | None:
        # The steps that start or continue a session answer {userId, sessionId, refreshTokenId} or None.
        ids: dict[str, str] | None = await self._step(ctx, step)
        return ids

    # --- auth:signOut, auth:isAuthenticated -------------------------------------------------
    async def _sign_out(self, ctx: ActionCtx, args: dict[str, Any]) -> None:
        session_id = await sessions.get_auth_session_id(ctx)
        if session_id is not None:
            await self._step(ctx, {"type": "signOut", "sessionId": session_id})

    async def _is_authenticated(self, ctx: QueryCtx, args: dict[str, Any]) -> bool:
        return await ctx.auth.get_user_identity() is not None

    # --- auth:store: every database step, one transaction each ------------------------------
    async def _store(self, ctx: MutationCtx, args: dict[str, Any]) -> Any:
        step = args["args"]
        kind = step["type"]
        if kind == "signUp":
            return await self._store_sign_up(ctx, step)
        if kind == "retrieveAccount":
            return await self._store_retrieve_account(ctx, step)
        if kind == "signIn":
            await rate_limit.reset_attempts(ctx, step["accountId"])
            user_id = await self.create_or_update_user(
                ctx, existing_user_id=step["userId"], provider=step["provider"], profile=step["profile"]
            )
            return await sessions.start_session(ctx, user_id, step["refreshSecretHash"])
        if kind == "refreshSession":
            return await sessions.refresh_session(
                ctx, step["refreshTokenId"], step["secretHash"], step["newSecretHash"]
            )
        await sessions.end_session(ctx, step["sessionId"])
        return None

    async def _store_sign_up(self, ctx: MutationCtx, step: dict[str, Any]) -> dict[str, str]:
        email = step["profile"]["email"]
        if await _account(ctx, step["provider"], email) is not None:
            raise account_taken()
        user_id = await self.create_or_update_user(
            ctx, existing_user_id=None, provider=step["provider"], profile=step["profile"]
        )
        await ctx.db.insert(
            "authAccounts",
            {"userId": user_id, "provider": step["provider"], "providerAccountId": email, "secret": step["secret"]},
        )
        return await sessions.start_session(ctx, user_id, step["refreshSecretHash"])

    @staticmethod
    async def _store_retrieve_account(ctx: MutationCtx, step: dict[str, Any]) -> dict[str, Any] | None:
        """The account's user and secret, or None when it has none; an attempt is spent either way."""
        await rate_limit.spend_attempt(ctx, step["accountId"], sessions.now_ms())
        account = await _account(ctx, step["provider"], step["accountId"])
        if account is None or not account.get("secret"):
            return None
        return {"userId": account["userId"], "secret": account["secret"]}


def session_tokens(ctx: ActionCtx, session: Mapping[str, str], refresh_secret: str) -> dict[str, str]:
    """``{token, refreshToken}`` for a session that ``sessions.start_session``/``refresh_session`` returned.

    ``refresh_secret`` is the secret whose hash the session's refresh token row stores. For
    providers an app adds itself (an emailed code, say), next to this library's.
    """
    subject = f"{session['userId']}{sessions.SUBJECT_DIVIDER}{session['sessionId']}"
    refresh_token = sessions.refresh_token_text(session["refreshTokenId"], refresh_secret)
    return {"token": ctx.auth.issuer.issue_token(subject), "refreshToken": refresh_token}


async def _account(ctx: MutationCtx, provider: str, account_id: str) -> dict[str, Any] | None:
    return await (
        ctx.db.query("authAccounts")
        .with_index("providerAndAccountId", lambda q: q.eq("provider", provider).eq("providerAccountId", account_id))
        .unique()
    )
