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

import base64
import html
import secrets
from urllib.parse import parse_qs, urlsplit

from runtime.functions.http_actions import HttpRouter, Response, http_action

from .lib.campaign_email import CLICK_PATH, OPEN_PATH, UNSUBSCRIBE_PATH
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


# Campaign email tracking: the pixel, the click redirect (only to the campaign's own links) and
# unsubscribe (GET asks, POST does it, so a link scanner that follows GETs unsubscribes no one).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


def _query(request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


@http_action
async def email_open(ctx, request):
    """GET ?t=<token>: count the open; a 1x1 GIF for a known token, 404 otherwise."""
    tracked = await ctx.run_mutation("emailCampaigns:track", {"token": _query(request).get("t", ""), "kind": "open"})
    if not tracked["known"]:
        return Response(None, status=404, headers=NO_STORE)
    return Response(PIXEL_GIF, headers={"content-type": "image/gif", **NO_STORE})


@http_action
async def email_click(ctx, request):
    """GET ?t=<token>&u=<url>: 302 to ``url`` when the recipient's campaign links to it; 404 otherwise."""
    params = _query(request)
    tracked = await ctx.run_mutation(
        "emailCampaigns:track", {"token": params.get("t", ""), "kind": "click", "url": params.get("u", "")}
    )
    if "url" not in tracked:
        return Response("Unknown link", status=404, headers={"content-type": "text/plain", **NO_STORE})
    return Response(None, status=302, headers={"location": tracked["url"], **NO_STORE})


@http_action
async def email_unsubscribe(ctx, request):
    """GET: a confirmation form; POST (the form, or RFC 8058 one-click): unsubscribe. 404 for unknown tokens."""
    token = _query(request).get("t", "")
    if request.method == "GET":
        page = (
            '<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>'
            f'<form method="post" action="?t={html.escape(token)}"><p>Stop receiving these emails?</p>'
            '<button type="submit">Unsubscribe</button></form>'
        )
        return Response(page, headers={"content-type": "text/html; charset=utf-8", **NO_STORE})
    tracked = await ctx.run_mutation("emailCampaigns:track", {"token": token, "kind": "unsubscribe"})
    if not tracked["known"]:
        return Response("Unknown link", status=404, headers={"content-type": "text/plain", **NO_STORE})
    return Response("You are unsubscribed.", headers={"content-type": "text/plain; charset=utf-8", **NO_STORE})


http.route(path=OPEN_PATH, method="GET", handler=email_open)
http.route(path=CLICK_PATH, method="GET", handler=email_click)
http.route(path=UNSUBSCRIBE_PATH, method="GET", handler=email_unsubscribe)
http.route(path=UNSUBSCRIBE_PATH, method="POST", handler=email_unsubscribe)
