"""The HTTP routes that let anyone verify this deployment's tokens: OIDC discovery and the JWKS.

These are what a Convex Auth app serves from its own ``http.ts``; here the server mounts them so
every app gets them, and an ``OidcProvider`` pointed at this deployment works like any other.
"""

from __future__ import annotations

from aiohttp import web

from runtime.tokens.issuer import JWKS_PATH, OPENID_CONFIGURATION_PATH, BuiltinIssuer

# Public documents, fetched by browsers and other origins' servers alike.
_HEADERS = {"Access-Control-Allow-Origin": "*"}


def well_known_routes(issuer: BuiltinIssuer) -> list[web.RouteDef]:
    """``GET`` (and ``HEAD``) routes for the discovery document and the JWKS of ``issuer``."""

    async def openid_configuration(request: web.Request) -> web.Response:
        return web.json_response(issuer.openid_configuration(), headers=_HEADERS)

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(issuer.jwks(), headers=_HEADERS)

    return [web.get(OPENID_CONFIGURATION_PATH, openid_configuration), web.get(JWKS_PATH, jwks)]
