"""Trust this deployment's own issuer: the tokens auth:signIn hands out."""

from runtime.auth import AuthConfig, BuiltinProvider

auth_config = AuthConfig(providers=[BuiltinProvider()])
