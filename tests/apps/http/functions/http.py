"""HTTP routes of the test app: echo, JSON through a mutation, a prefix route, errors."""

from runtime import ConvexError
from runtime.http_actions import HttpRouter, Response, http_action

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


http.route(path="/echo", method="POST", handler=echo)
http.route(path="/bump", method="POST", handler=bump)
http.route(path_prefix="/files/", method="GET", handler=files)
http.route(path_prefix="/files/deep/", method="GET", handler=files_deep)
http.route(path="/fail", method="GET", handler=fail)
http.route(path="/wrong", method="GET", handler=wrong)
http.route(path="/meta", method="GET", handler=meta)
