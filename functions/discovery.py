"""Instance metadata behind ``/.well-known/opencom.json`` (see ``lib/discovery`` for the HTTP side)."""

from runtime import query

from .lib.discovery import DEFAULT_INSTANCE_NAME, DISCOVERY_FEATURES, DISCOVERY_VERSION

DEFAULT_SIGNUP_MODE = "invite-only"
DEFAULT_AUTH_METHODS = ["password", "otp"]


@query(args={})
async def getMetadata(ctx, args):
    """``{version, name, features, signupMode, authMethods}``, from the oldest workspace (defaults without one).

    The sign-up policy is public on purpose: the dashboard's sign-in and sign-up pages read it
    before anyone is signed in, to offer only the methods the instance accepts.
    """
    first = await ctx.db.query("workspaces").with_index("by_created_at").first()
    metadata = {
        "version": DISCOVERY_VERSION,
        "name": first["name"] if first is not None else DEFAULT_INSTANCE_NAME,
        "features": list(DISCOVERY_FEATURES),
    }
    return {
        **metadata,
        "signupMode": (first or {}).get("signupMode", DEFAULT_SIGNUP_MODE),
        "authMethods": (first or {}).get("authMethods", DEFAULT_AUTH_METHODS),
    }
