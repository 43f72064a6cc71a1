"""HTTP routes of the test app: echo, JSON through a mutation, a prefix route, errors, streamed
bodies, a route under ``/api/``, and a route answering its own CORS."""

import asyncio

from runtime import ConvexError
from runtime.functions.http_actions import HttpRouter, Response, http_action

from . import counter

http = HttpRouter()


@http_action
async def echo(ctx, request):
    return Response(await request.bytes(), headers={"content-type": request.headers.get("content-type", "text/plain")})


@http_action
async def bump(ctx, request):
    body = await request.json()
    value = await ctx.run_mutation(counter.bump, {"by": float(body["by"])})
    return Response.json({"value": value}, status=201)


@http_action
async def files(ctx, request):
    return Response(f"file route for {request.url}")


@http_action
async def files_deep(ctx, request):
    return Response("deeper prefix wins")


@http_action
async def fail(ctx, request):
    raise ConvexError({"code": "NOPE"})


@http_action
async def meta(ctx, request):
    return Response.json(ctx.meta.get_function_metadata())


@http_action
async def wrong(ctx, request):
    return {"not": "a response"}


@http_action
async def api_hello(ctx, request):
    return Response("hello from the app's own /api/ route")


@http_action
async def whereami(ctx, request):
    """The URL the handler saw, and the deployment's two URLs as functions see them."""
    return Response.json(
        {"url": request.url, "cloud": ctx.env.get("CONVEX_CLOUD_URL"), "site": ctx.env.get("CONVEX_SITE_URL")}
    )


@http_action
async def stream(ctx, request):
    """Chunks sent as produced: the second waits (bounded) for the counter, which only a client that
    already read the first chunk bumps, so a buffered response could never complete."""

    async def chunks():
        yield "first chunk;"
        for _ in range(400):
            if (await ctx.run_query(counter.get, {}) or 0) >= 1:
                break
            await asyncio.sleep(0.025)
        yield b"second chunk"

    return Response(chunks(), headers={"content-type": "text/plain", "content-length": "999"})


@http_action
async def stream_fails(ctx, request):
    async def chunks():
        yield "partial"
        raise ConvexError({"code": "BROKEN"})

    return Response(chunks())


@http_action
async def stream_big(ctx, request):
    async def chunks():
        for _ in range(int(request.url.rsplit("=", 1)[1])):
            yield b"x" * 600

    return Response(chunks())


@http_action
async def stream_wrong(ctx, request):
    async def chunks():
        yield 42

    return Response(chunks())


ALLOWED_ORIGIN = "https://allowed.example"


@http_action
async def cors(ctx, request):
    """A route with its own CORS rules: one allowed origin, no credentials, others refused."""
    origin = request.headers.get("origin")
    if origin != ALLOWED_ORIGIN:
        return Response.json({"error": "Origin not allowed"}, status=403)
    headers = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "GET", "Vary": "Origin"}
    return Response(None if request.method == "OPTIONS" else "shared", headers=headers)


http.route(path="/echo", method="POST", handler=echo)
http.route(path="/api/hello", method="GET", handler=api_hello)
http.route(path="/whereami", method="GET", handler=whereami)
http.route(path="/stream", method="GET", handler=stream)
http.route(path="/stream/fails", method="GET", handler=stream_fails)
http.route(path="/stream/big", method="GET", handler=stream_big)
http.route(path="/stream/wrong", method="GET", handler=stream_wrong)
http.route(path="/cors", method="GET", handler=cors)
http.route(path="/cors", method="OPTIONS", handler=cors)
http.route(path="/bump", method="POST", handler=bump)
http.route(path_prefix="/files/", method="GET", handler=files)
http.route(path_prefix="/files/deep/", method="GET", handler=files_deep)
http.route(path="/fail", method="GET", handler=fail)
http.route(path="/wrong", method="GET", handler=wrong)
http.route(path="/meta", method="GET", handler=meta)
