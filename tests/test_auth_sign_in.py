"""The sign-in library, driven in-process through the executor exactly as a client would call it:
sign-up, sign-in, refresh-token rotation, sign-out, rate limiting, and secrets kept out of storage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from runtime import internal_query, knobs
from runtime.auth import AuthError
from runtime.functions.app_loader import load_app
from runtime.functions.executor import Executor
from runtime.tokens.identity import Identity
from runtime.values.errors import ConvexError

AUTH_APP = Path(__file__).parent / "apps" / "auth"
CORE_APP = Path(__file__).parent / "apps" / "core"  # an app with no auth_config.py
EMAIL = "Ada@Example.com "
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The default cost is ~100 ms a hash on purpose; these tests hash dozens of times.
    monkeypatch.setattr(knobs, "AUTH_SCRYPT_N", 1 << 10)


@pytest.fixture
def auth(open_executor: Callable[..., Executor]) -> Executor:
    return open_executor(AUTH_APP)


def password_args(flow: str, email: str = EMAIL, password: str = PASSWORD, **params: Any) -> dict[str, Any]:
    return {"provider": "password", "params": {"flow": flow, "email": email, "password": password, **params}}


async def sign_up(executor: Executor, **params: Any) -> dict[str, str]:
    return (await executor.call("auth:signIn", password_args("signUp", **params)))["tokens"]


async def failure(executor: Executor, path: str, args: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The ``{code, message}`` of the ConvexError the call ends with."""
    result = await executor.run(path, args, **options)
    assert isinstance(result.error, ConvexError), result.error
    return result.error.data


@internal_query(args={})
async def stored_rows(ctx: Any, args: Any) -> dict[str, Any]:
    """What the library keeps: accounts, sessions, refresh tokens, rate limits."""
    tables = ("authAccounts", "authSessions", "authRefreshTokens", "authRateLimits")
    return {table: await ctx.db.query(table).collect() for table in tables}


def rows(executor: Executor) -> dict[str, list[dict[str, Any]]]:
    return executor.run_query(stored_rows, {}).unwrap()


# --- sign-up and sign-in ----------------------------------------------------------------------
async def test_sign_up_returns_tokens_for_a_new_user_and_session(auth: Executor) -> None:
    tokens = await sign_up(auth, name="Ada")
    identity = await auth.auth.verify(tokens["token"])
    user_id, _, session_id = identity["subject"].partition("|")
    assert identity == {
        "tokenIdentifier": f"{auth.site_url}|{identity['subject']}",
        "subject": f"{user_id}|{session_id}",
        "issuer": auth.site_url,
    }
    assert await auth.call("me:whoami", identity=identity) == identity
    user = await auth.call("me:user", identity=identity)
    assert (user["_id"], user["email"], user["name"]) == (user_id, "ada@example.com", "Ada")
    assert [row["_id"] for row in rows(auth)["authSessions"]] == [session_id]
    assert await auth.call("auth:isAuthenticated", identity=identity) is True
    assert await auth.call("auth:isAuthenticated") is False
    assert await auth.call("me:user") is None


async def test_functions_find_the_signed_in_user_with_get_auth_user_id(auth: Executor) -> None:
    identity = await auth.auth.verify((await sign_up(auth))["token"])
    note_id = await auth.call("me:add_note", {"text": "hello"}, identity=identity)
    assert isinstance(note_id, str)
    signed_out = await auth.run("me:add_note", {"text": "hello"})
    assert isinstance(signed_out.error, ConvexError) and signed_out.error.data == "Not authenticated"


async def test_sign_in_starts_another_session_of_the_same_user(auth: Executor) -> None:
    first = await auth.auth.verify((await sign_up(auth))["token"])
    tokens = (await auth.call("auth:signIn", password_args("signIn", email="ada@example.com")))["tokens"]
    second = await auth.auth.verify(tokens["token"])
    assert first["subject"].partition("|")[0] == second["subject"].partition("|")[0]
    assert first["subject"] != second["subject"]


async def test_the_access_token_lives_for_the_configured_lifetime(auth: Executor) -> None:
    claims = jwt.decode((await sign_up(auth))["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == knobs.AUTH_TOKEN_LIFETIME_S
    assert claims["aud"] == "convex"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (password_args("signIn", password="wrong password"), "InvalidSecret"),
        (password_args("signIn", email="nobody@example.com"), "InvalidSecret"),  # same as a wrong password
        (password_args("signUp"), "AccountAlreadyExists"),
        (password_args("signUp", email="new@example.com", password="short"), "InvalidPassword"),
        (password_args("signUp", email="  "), "InvalidAccountId"),
        (password_args("resetPassword"), "InvalidFlow"),
        ({"provider": "github", "params": {}}, "InvalidProvider"),
    ],
)
async def test_sign_in_mistakes_are_convex_errors_with_a_code(auth: Executor, args: dict[str, Any], code: str) -> None:
    await sign_up(auth)
    data = await failure(auth, "auth:signIn", args)
    assert data["code"] == code and data["message"]


async def test_one_email_cannot_sign_up_twice_even_at_the_same_moment(auth: Executor) -> None:
    results = await asyncio.gather(*(auth.run("auth:signIn", password_args("signUp")) for _ in range(4)))
    assert sum(result.ok for result in results) == 1
    assert {result.error.data["code"] for result in results if not result.ok} == {"AccountAlreadyExists"}
    assert len(rows(auth)["authAccounts"]) == 1


async def test_passwords_and_refresh_secrets_never_reach_storage_or_logs(auth: Executor) -> None:
    first = await auth.run("auth:signIn", password_args("signUp"))
    await auth.run("auth:signIn", password_args("signIn", password="a wrong guess"))
    second = await auth.run("auth:signIn", password_args("signIn"))
    refreshed = await auth.run("auth:signIn", {"refreshToken": second.value["tokens"]["refreshToken"]})
    (account,) = rows(auth)["authAccounts"]
    assert account["secret"].startswith("scrypt$") and PASSWORD not in account["secret"]
    secrets = [PASSWORD, "a wrong guess"]
    secrets += [result.value["tokens"]["refreshToken"].partition("|")[2] for result in (first, second, refreshed)]
    await auth.close()
    stored = b"".join(path.read_bytes() for path in Path(auth.database.path).parent.rglob("*") if path.is_file())
    for secret in secrets:
        assert secret.encode() not in stored
    assert not any(PASSWORD in line for result in (first, second) for line in result.log_lines)


# --- refresh tokens ---------------------------------------------------------------------------
async def test_a_refresh_token_rotates_and_keeps_the_session(auth: Executor) -> None:
    tokens = await sign_up(auth)
    session = (await auth.auth.verify(tokens["token"]))["subject"]
    renewed = (await auth.call("auth:signIn", {"refreshToken": tokens["refreshToken"]}))["tokens"]
    assert renewed["refreshToken"] != tokens["refreshToken"]
    assert (await auth.auth.verify(renewed["token"]))["subject"] == session
    again = (await auth.call("auth:signIn", {"refreshToken": renewed["refreshToken"]}))["tokens"]
    assert (await auth.auth.verify(again["token"]))["subject"] == session


async def test_a_used_refresh_token_works_again_only_within_the_reuse_window(
    auth: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await sign_up(auth)
    first = (await auth.call("auth:signIn", {"refreshToken": tokens["refreshToken"]}))["tokens"]
    parallel_tab = (await auth.call("auth:signIn", {"refreshToken": tokens["refreshToken"]}))["tokens"]
    assert parallel_tab is not None and parallel_tab["refreshToken"] != first["refreshToken"]
    monkeypatch.setattr(knobs, "AUTH_REFRESH_REUSE_WINDOW_S", 0.0)
    await asyncio.sleep(0.002)  # so that "after the window" holds whatever the clock's resolution
    assert await auth.call("auth:signIn", {"refreshToken": tokens["refreshToken"]}) == {"tokens": None}
    # Reuse after the window means the token leaked: the whole session is over, for every copy.
    assert await auth.call("auth:signIn", {"refreshToken": first["refreshToken"]}) == {"tokens": None}
    assert rows(auth)["authSessions"] == [] and rows(auth)["authRefreshTokens"] == []


@pytest.mark.parametrize("refresh_token", ["", "garbage", "abc|def", "|", "x" * 40])
async def test_a_bogus_refresh_token_yields_no_tokens(auth: Executor, refresh_token: str) -> None:
    tokens = await sign_up(auth)
    forged = tokens["refreshToken"].partition("|")[0] + "|not-the-secret"
    assert await auth.call("auth:signIn", {"refreshToken": refresh_token}) == {"tokens": None}
    assert await auth.call("auth:signIn", {"refreshToken": forged}) == {"tokens": None}


async def test_sign_out_ends_the_session_and_its_refresh_tokens(auth: Executor) -> None:
    tokens = await sign_up(auth)
    identity: Identity = await auth.auth.verify(tokens["token"])
    assert await auth.call("auth:signOut", identity=identity) is None
    assert await auth.call("auth:signIn", {"refreshToken": tokens["refreshToken"]}) == {"tokens": None}
    assert rows(auth)["authSessions"] == []
    assert await auth.call("auth:signOut") is None  # signed out already: nothing to do


# --- rate limiting ----------------------------------------------------------------------------
async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    auth: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knobs, "AUTH_SIGN_IN_MAX_FAILURES", 3)
    await sign_up(auth)
    await sign_up(auth, email="other@example.com")
    for _ in range(3):
        assert (await failure(auth, "auth:signIn", password_args("signIn", password="guess")))[
            "code"
        ] == "InvalidSecret"
    locked = await failure(auth, "auth:signIn", password_args("signIn"))
    assert locked["code"] == "TooManyFailedAttempts"
    assert "try again in" in locked["message"]
    assert (await auth.call("auth:signIn", password_args("signIn", email="other@example.com")))["tokens"]


async def test_a_successful_sign_in_resets_the_failure_count(auth: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knobs, "AUTH_SIGN_IN_MAX_FAILURES", 3)
    await sign_up(auth)
    for _ in range(2):
        await failure(auth, "auth:signIn", password_args("signIn", password="guess"))
    assert (await auth.call("auth:signIn", password_args("signIn")))["tokens"]
    assert rows(auth)["authRateLimits"] == []
    for _ in range(3):
        assert (await failure(auth, "auth:signIn", password_args("signIn", password="guess")))[
            "code"
        ] == "InvalidSecret"


# --- configuration ----------------------------------------------------------------------------
async def test_an_app_without_auth_config_trusts_no_token(
    auth: Executor, open_executor: Callable[..., Executor]
) -> None:
    token = (await sign_up(auth))["token"]
    bare = open_executor(CORE_APP)
    assert bare.app.auth_config is None
    with pytest.raises(AuthError, match="No auth provider found"):
        await bare.auth.verify(token)


def test_an_auth_config_file_must_define_auth_config(make_app: Callable[[dict[str, str]], Path]) -> None:
    app = make_app({"auth_config.py": "providers = []\n"})
    with pytest.raises(TypeError, match="define `auth_config = AuthConfig"):
        load_app(app)


# --- the app's hook over users ----------------------------------------------------------------
async def test_create_or_update_user_owns_the_users_table(
    make_app: Callable[[dict[str, str]], Path], open_executor: Callable[..., Executor]
) -> None:
    app = make_app(
        {
            "schema.py": """
                from runtime.auth import auth_tables
                from runtime import define_schema, define_table, v
                schema = define_schema({**auth_tables(), "users": define_table({"email": v.string(), "logins": v.float64()})})
            """,
            "auth_config.py": """
                from runtime.auth import AuthConfig, BuiltinProvider
                auth_config = AuthConfig(providers=[BuiltinProvider()])
            """,
            "functions/auth.py": """
                from runtime.auth import ConvexAuth, Password

                async def count_logins(ctx, *, existing_user_id, provider, profile):
                    if existing_user_id is None:
                        return await ctx.db.insert("users", {"email": profile["email"], "logins": 1.0})
                    user = await ctx.db.get(existing_user_id)
                    await ctx.db.patch(existing_user_id, {"logins": user["logins"] + 1})
                    return existing_user_id

                auth = ConvexAuth(providers=[Password()], create_or_update_user=count_logins)
                sign_in, store = auth.sign_in, auth.store
            """,
            "functions/me.py": """
                from runtime import query
                from runtime.auth import get_auth_user_id

                @query(args={})
                async def user(ctx, args):
                    return await ctx.db.get(await get_auth_user_id(ctx))
            """,
        }
    )
    executor = open_executor(app)
    await sign_up(executor)
    tokens = (await executor.call("auth:signIn", password_args("signIn")))["tokens"]
    user = await executor.call("me:user", identity=await executor.auth.verify(tokens["token"]))
    assert (user["email"], user["logins"]) == ("ada@example.com", 2.0)
