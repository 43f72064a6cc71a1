"""Email + password sign-in: auth:signIn, auth:signOut, auth:store, auth:isAuthenticated.

New users get their name from the sign-up params; signing in again keeps the user as is.
"""

from runtime.auth import ConvexAuth, Password


def profile(params):
    """The email (trimmed, lower-cased) and, when given, the name."""
    fields = {"email": str(params.get("email", "")).strip().lower()}
    if isinstance(params.get("name"), str) and params["name"].strip():
        fields["name"] = params["name"].strip()
    return fields


auth = ConvexAuth(providers=[Password(profile=profile)])
sign_in = auth.sign_in
sign_out = auth.sign_out
store = auth.store
is_authenticated = auth.is_authenticated
