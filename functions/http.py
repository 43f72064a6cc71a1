"""The app's HTTP routes: backend discovery at ``/.well-known/opencom.json``, inbound email.

Browsers may read the discovery document cross-origin only from the origins in the
``OPENCOM_PUBLIC_CORS_ORIGINS`` environment variable (localhost when unset); see
``lib/discovery``. The instance metadata comes from ``discovery:getMetadata``.

``POST /email/inbound`` (also at ``/api/email/inbound``, where Opencom serves it) takes Resend's
inbound-email webhook. The Svix signature is checked before anything else (``lib/webhook_policy``),
so a refused request writes nothing; the mail then goes to the workspace whose forwarding address
it was sent to (``emailChannel``).

``GET /geolocation`` is where the widget asks where its visitor is: looked up in the GeoIP database
the deployment configures (``lib/geoip``), all null without one; a request naming a workspace
(``X-Workspace-Id``) must come from one of its allowed origins.
"""

import secrets

from runtime.http_actions import HttpRouter, Response, http_action

from .lib.discovery import discovery_cors_headers, discovery_response
from .lib.geoip import GEOIP_DATABASE_ENV, client_ip, locate
from .lib.inbound_email import parse_inbound
from .lib.webhook_policy import webhook_refusal

DISCOVERY_PATH = "/.well-known/opencom.json"
INBOUND_EMAIL_PATHS = ("/email/inbound", "/api/email/inbound")

http = HttpRouter()


@http_action
async def discovery(ctx, request):
    """GET: the discovery document; OPTIONS: the CORS preflight."""
    origin = request.headers.get("origin")
    configured = ctx.env.get("OPENCOM_PUBLIC_CORS_ORIGINS")
    metadata = {}
    if request.method != "OPTIONS":
        try:
            metadata = await ctx.run_query("discovery:getMetadata", {})
        except Exception:  # noqa: BLE001 - any failure is the documented 500
            headers = discovery_cors_headers(origin, configured)
            return Response.json({"error": "Failed to retrieve instance metadata"}, status=500, headers=headers)
    convex_url = ctx.env.get("CONVEX_CLOUD_URL") or ctx.env.get("VITE_CONVEX_URL") or ""
    status, headers, body = discovery_response(request.method, origin, configured, metadata, convex_url)
    if body is None:
        return Response(None, status=status, headers=headers)
    return Response.json(body, status=status, headers=headers)


http.route(path=DISCOVERY_PATH, method="GET", handler=discovery)
http.route(path=DISCOVERY_PATH, method="OPTIONS", handler=discovery)


@http_action
async def email_inbound(ctx, request):
    """POST: file one inbound email; 401 unsigned, 400 unreadable, 404 unknown recipient, 403 channel off."""
    body = await request.bytes()
    refusal = webhook_refusal(ctx.env, request.headers, body)
    if refusal is not None:
        return Response.json({"error": refusal}, status=401)
    # A retried webhook keeps its svix-id: naming a Message-ID-less mail after it files it once.
    fallback_id = f"{request.headers.get('svix-id') or secrets.token_hex(16)}@inbound"
    try:
        email = parse_inbound(await request.json(), fallback_id)
    except ValueError as error:  # not JSON (or nested too deeply to read), or InvalidInboundEmail
        return Response.json({"error": f"Invalid inbound email: {error}"}, status=400)
    config = None
    for address in email.to:
        config = await ctx.run_query("emailChannel:getEmailConfigByForwardingAddress", {"forwardingAddress": address})
        if config is not None:
            break
    if config is None:
        return Response.json({"error": "Unknown recipient"}, status=404)
    if not config["enabled"]:
        return Response.json({"error": "Email channel disabled"}, status=403)
    step = "emailChannel:processForwardedEmail" if email.forwarded else "emailChannel:processInboundEmail"
    try:
        filed = await ctx.run_mutation(step, {"workspaceId": config["workspaceId"], **email.to_args()})
    except Exception as error:  # noqa: BLE001 - any failure is the documented 500; the mutation rolled back
        print(f"Inbound email from {email.sender} could not be filed: {error}")
        return Response.json({"error": "Internal server error"}, status=500)
    return Response.json({"success": True, **filed})


for _path in INBOUND_EMAIL_PATHS:
    http.route(path=_path, method="POST", handler=email_inbound)


GEOLOCATION_PATH = "/geolocation"


@http_action
async def geolocation(ctx, request):
    """GET: the visitor's location; OPTIONS: the CORS preflight. 403 for a refused origin."""
    origin = request.headers.get("origin")
    workspace_id = request.headers.get("x-workspace-id")
    verdict = {"valid": True, "reason": "No workspace specified"}
    if workspace_id:
        try:
            verdict = await ctx.run_query(
                "workspaces:validateOrigin", {"workspaceId": workspace_id, "origin": origin or ""}
            )
        except Exception:  # noqa: BLE001 - a malformed workspace id is Opencom's "Invalid workspace ID"
            verdict = {"valid": False, "reason": "Invalid workspace ID"}
    headers = {
        "Access-Control-Allow-Methods": "GET, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, X-Workspace-Id",
        "Vary": "Origin",
    }
    if not verdict["valid"]:
        return Response.json({"error": verdict["reason"]}, status=403, headers=headers)
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":
        return Response(None, status=200, headers=headers)
    location = locate(ctx.env.get(GEOIP_DATABASE_ENV), client_ip(request.headers))
    return Response.json(location, headers=headers)


http.route(path=GEOLOCATION_PATH, method="GET", handler=geolocation)
http.route(path=GEOLOCATION_PATH, method="OPTIONS", handler=geolocation)
