"""Who is calling: the tokens a deployment issues and trusts, and its admin key.

``config`` (the providers an app trusts), ``issuer`` and ``well_known`` (the deployment's own
tokens), ``jwks``, ``key_set`` and ``verifier`` (checking a token), ``identity`` (claims to
``ctx.auth`` identity), ``admin_key`` and ``deployment`` (all of it for one deployment). Functions
consult it; the sign-in library built on functions lives in ``runtime.auth``.
"""
