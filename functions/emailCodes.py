"""Email-code sign-in ("resend-otp"): its two database steps and the ``auth:signIn`` branch running them.

``auth:signIn {provider: "resend-otp", params: {email}}`` runs ``requestCode``: the account (on
first use also the user and their workspace, through the same sign-up hook as passwords, which
links an existing user with that email) and a fresh code, mailed through the email provider
(locally: the ``outbox`` table). ``{params: {email, code}}`` runs ``verifyCode``, which starts a
session if the code is the account's current one and has not expired; the code is then used up.

Wrong codes spend the address's sign-in attempts like wrong passwords do, so six digits cannot be
guessed at speed. That is why ``verifyCode`` answers a wrong code with null instead of raising:
an error would roll the spent attempt back along with everything else.

Requests are limited too, so nobody can flood an inbox or the mail provider: per address
(``CODE_REQUESTS_PER_ADDRESS``) and per client address (``CODE_REQUESTS_PER_CLIENT``, from
``ctx.connection.client_address``), each per ``CODE_REQUEST_WINDOW_S``. Past either limit the
request fails with ``TooManyCodeRequests`` and nothing is written or mailed.
"""

from typing import Any

from runtime import internal_mutation, v
from runtime.auth import auth_failure, rate_limit, sessions

from .lib.accounts import create_or_update_user, opencom_profile
from .lib.clock import now_ms
from .lib.email_codes import (
    CODE_LIFETIME_MS,
    CODE_REQUEST_WINDOW_S,
    CODE_REQUESTS_PER_ADDRESS,
    CODE_REQUESTS_PER_CLIENT,
    PROVIDER,
    code_email,
    code_matches,
    hash_code,
    new_code,
)
from .lib.email_provider import send_email
from .lib.identity import Doc


async def _account(ctx: Any, email: str) -> Doc | None:
    return await (
        ctx.db.query("authAccounts")
        .with_index("providerAndAccountId", lambda q: q.eq("provider", PROVIDER).eq("providerAccountId", email))
        .unique()
    )


async def _pending_codes(ctx: Any, account_id: str) -> list[Doc]:
    return await (
        ctx.db.query("authVerificationCodes").with_index("accountId", lambda q: q.eq("accountId", account_id)).collect()
    )


async def _spend_code_request(ctx: Any, identifier: str, limit: int) -> None:
    await rate_limit.spend(
        ctx,
        identifier,
        now_ms(),
        limit=limit,
        window_s=CODE_REQUEST_WINDOW_S,
        code="TooManyCodeRequests",
        message="Too many verification codes requested",
    )


@internal_mutation(args={"profile": v.record(v.string(), v.any()), "client": v.optional(v.string())})
async def requestCode(ctx, args):
    """Mail a new code to the profile's email, replacing any code it had (limited per address and client)."""
    profile = args["profile"]
    email = profile.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise auth_failure("InvalidAccountId", "A valid email address is required")
    await _spend_code_request(ctx, f"code-request:address:{email}", CODE_REQUESTS_PER_ADDRESS)
    if args.get("client"):
        await _spend_code_request(ctx, f"code-request:client:{args['client']}", CODE_REQUESTS_PER_CLIENT)
    account = await _account(ctx, email)
    if account is None:
        user_id = await create_or_update_user(ctx, existing_user_id=None, provider=PROVIDER, profile=profile)
        account_id = await ctx.db.insert(
            "authAccounts", {"userId": user_id, "provider": PROVIDER, "providerAccountId": email}
        )
    else:
        account_id = account["_id"]
    for stale in await _pending_codes(ctx, account_id):
        await ctx.db.delete(stale["_id"])
    code = new_code()
    await ctx.db.insert(
        "authVerificationCodes",
        {
            "accountId": account_id,
            "provider": PROVIDER,
            "code": hash_code(code),
            "expirationTime": now_ms() + CODE_LIFETIME_MS,
        },
    )
    await send_email(ctx, code_email(email, code, ctx.env.get("EMAIL_FROM")))


@internal_mutation(args={"email": v.string(), "code": v.string(), "refreshSecretHash": v.string()})
async def verifyCode(ctx, args):
    """A new session (``{userId, sessionId, refreshTokenId}``) for a right code; null for a wrong or stale one."""
    email = args["email"].strip().lower()
    now = now_ms()
    await rate_limit.spend_attempt(ctx, email, now)
    account = await _account(ctx, email)
    pending = await _pending_codes(ctx, account["_id"]) if account is not None else []
    if not pending:
        return None
    row = pending[0]
    if row["expirationTime"] < now:
        await ctx.db.delete(row["_id"])
        return None
    if not code_matches(args["code"], row["code"]):
        return None
    await ctx.db.delete(row["_id"])
    await rate_limit.reset_attempts(ctx, email)
    await ctx.db.patch(account["_id"], {"emailVerified": email})
    user_id = await create_or_update_user(
        ctx, existing_user_id=account["userId"], provider=PROVIDER, profile={"email": email}
    )
    await ctx.db.patch(user_id, {"emailVerificationTime": now})
    return await sessions.start_session(ctx, user_id, args["refreshSecretHash"])


async def sign_in_with_email_code(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``auth:signIn`` for ``"resend-otp"``: ``{started: true}`` once a code is mailed, then tokens for the code."""
    if "code" not in params:
        client = ctx.connection.client_address
        request = {"profile": opencom_profile(params), **({"client": client} if client else {})}
        await ctx.run_mutation(requestCode, request)
        return {"started": True}
    email, code = params.get("email"), params["code"]
    if not isinstance(email, str) or not isinstance(code, str):
        raise auth_failure("InvalidVerificationCode", "email and code must be strings")
    secret, secret_hash = sessions.new_refresh_secret()
    ids = await ctx.run_mutation(verifyCode, {"email": email, "code": code, "refreshSecretHash": secret_hash})
    if ids is None:
        raise auth_failure("InvalidVerificationCode", "Invalid or expired verification code")
    subject = f"{ids['userId']}{sessions.SUBJECT_DIVIDER}{ids['sessionId']}"
    return {
        "tokens": {
            "token": ctx.auth.issuer.issue_token(subject),
            "refreshToken": sessions.refresh_token_text(ids["refreshTokenId"], secret),
        }
    }
