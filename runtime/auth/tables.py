"""The tables the sign-in library keeps its state in (Convex Auth's ``authTables``, same names).

An app spreads them into its schema and may replace ``users`` with its own definition, as long
as that keeps an ``email`` index if it looks users up by email::

    schema = define_schema({**auth_tables(), "users": define_table({...}).index("by_email", ["email"])})
"""

from __future__ import annotations

from runtime.values.schema import TableDefinition, define_table
from runtime.values.validators import v


def auth_tables() -> dict[str, TableDefinition]:
    """Fresh definitions of ``users``, ``authSessions``, ``authAccounts``, ``authRefreshTokens``, ``authRateLimits``."""
    optional_text = v.optional(v.string())
    optional_time = v.optional(v.float64())
    return {
        "users": define_table(
            {
                "name": optional_text,
                "image": optional_text,
                "email": optional_text,
                "emailVerificationTime": optional_time,
                "phone": optional_text,
                "phoneVerificationTime": optional_time,
                "isAnonymous": v.optional(v.boolean()),
            }
        )
        .index("email", ["email"])
        .index("phone", ["phone"]),
        # One per sign-in; the JWT's subject is "<userId>|<sessionId>".
        "authSessions": define_table({"userId": v.id("users"), "expirationTime": v.float64()}).index(
            "userId", ["userId"]
        ),
        # How a user proves who they are: provider "password" with the normalised email as account id.
        "authAccounts": define_table(
            {
                "userId": v.id("users"),
                "provider": v.string(),
                "providerAccountId": v.string(),
                "secret": optional_text,  # the scrypt hash, never the password
                "emailVerified": optional_text,
                "phoneVerified": optional_text,
            }
        )
        .index("userIdAndProvider", ["userId", "provider"])
        .index("providerAndAccountId", ["provider", "providerAccountId"]),
        # The client holds "<id>|<secret>"; only the SHA-256 of the secret is stored.
        "authRefreshTokens": define_table(
            {
                "sessionId": v.id("authSessions"),
                "expirationTime": v.float64(),
                "firstUsedTime": optional_time,
                "parentRefreshTokenId": v.optional(v.id("authRefreshTokens")),
                "secretHash": v.string(),
            }
        ).index("sessionId", ["sessionId"]),
        # A token bucket of sign-in attempts per account identifier.
        "authRateLimits": define_table(
            {"identifier": v.string(), "lastAttemptTime": v.float64(), "attemptsLeft": v.float64()}
        ).index("identifier", ["identifier"]),
    }
