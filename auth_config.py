"""The token issuers Opencom trusts: the deployment's own (the tokens ``auth:signIn`` hands out)."""

from runtime.auth import AuthConfig, BuiltinProvider

auth_config = AuthConfig(providers=[BuiltinProvider()])
