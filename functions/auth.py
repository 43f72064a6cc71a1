"""Agent sign-in: ``auth:signIn``, ``auth:signOut``, ``auth:store``, ``auth:isAuthenticated``.

Email + password through the runtime's auth library; Opencom decides what an account is
(``lib/accounts``): the sign-up params may carry ``name`` and ``workspaceName``, and a first
sign-up creates the user's own workspace. ``auth:signIn`` also serves Opencom's second provider,
the emailed code ``"resend-otp"`` (``emailCodes``), which the library does not know.
"""

from runtime import action
from runtime.auth import ConvexAuth, Password

from .emailCodes import sign_in_with_email_code
from .lib.accounts import create_or_update_user, opencom_profile
from .lib.email_codes import PROVIDER as EMAIL_CODE_PROVIDER

auth = ConvexAuth(providers=[Password(profile=opencom_profile)], create_or_update_user=create_or_update_user)


@action(name="signIn", args=auth.sign_in.args)
async def sign_in(ctx, args):
    """Sign in with a password (the library's flow) or an emailed code; returns ``{tokens}`` or ``{started}``."""
    if args.get("provider") == EMAIL_CODE_PROVIDER:
        return await sign_in_with_email_code(ctx, args.get("params", {}))
    return await auth.sign_in.handler(ctx, args)


sign_out = auth.sign_out
store = auth.store
is_authenticated = auth.is_authenticated
