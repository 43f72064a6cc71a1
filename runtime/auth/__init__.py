"""Authentication as an app sees it: the sign-in library, built on functions, and the token settings.

The library (``sessions``, ``sign_in``, ``tables``, ``passwords``, ``rate_limit``) is functions
an app exports; who is calling, which tokens are trusted and how they are checked is the layer
below functions, ``runtime.tokens``, whose app-facing names this package re-exports.

What an app uses::

    # auth_config.py — the issuers the app trusts
    from runtime.auth import AuthConfig, BuiltinProvider
    auth_config = AuthConfig(providers=[BuiltinProvider()])

    # schema.py — the sign-in tables
    from runtime.auth import auth_tables
    schema = define_schema({**auth_tables(), ...})

    # functions/auth.py — auth:signIn, auth:signOut, auth:store, auth:isAuthenticated
    from runtime.auth import ConvexAuth, Password
    auth = ConvexAuth(providers=[Password()])
    sign_in, sign_out, store, is_authenticated = auth.sign_in, auth.sign_out, auth.store, auth.is_authenticated

    # any function
    from runtime.auth import get_auth_user_id
    user_id = await get_auth_user_id(ctx)

What the server uses is ``executor.auth`` (``runtime.tokens.deployment.DeploymentAuth``).
"""

from runtime.auth.sessions import get_auth_session_id, get_auth_user_id
from runtime.auth.sign_in import ConvexAuth, Password, account_taken, session_tokens
from runtime.auth.tables import auth_tables
from runtime.tokens.config import AuthConfig, BuiltinProvider, CustomJwtProvider, OidcProvider
from runtime.tokens.errors import AuthError, auth_failure

__all__ = [
    "AuthConfig",
    "AuthError",
    "BuiltinProvider",
    "ConvexAuth",
    "CustomJwtProvider",
    "OidcProvider",
    "Password",
    "account_taken",
    "auth_failure",
    "auth_tables",
    "get_auth_session_id",
    "get_auth_user_id",
    "session_tokens",
]
