"""HTTP routes: an exact path, a prefix, a JSON echo, a failure and the caller's identity."""

from runtime import ConvexError
from runtime.functions.http_actions import HttpRouter, Response, http_action

http = HttpRouter()


@http_action
async def echo(ctx, request):
    return Response.json({"method": request.method, "url": request.url, "body": await request.json()})


@http_action
async def under_prefix(ctx, request):
    return Response(body=request.url.rsplit("/", 1)[-1], headers={"content-type": "text/plain"})


@http_action
async def fail(ctx, request):
    raise ConvexError({"code": "TEAPOT", "message": "short and stout"})


@http_action
async def post_message(ctx, request):
    await ctx.run_mutation("messages:send", {"body": (await request.json())["body"]})
    return Response(status=201)


@http_action
async def stream(ctx, request):
    async def chunks():
        yield "streamed "
        yield b"body"

    return Response(chunks(), headers={"content-type": "text/plain"})


http.route(path="/echo", method="POST", handler=echo)
http.route(path="/stream", method="GET", handler=stream)
http.route(path_prefix="/files/", method="GET", handler=under_prefix)
http.route(path="/fail", method="GET", handler=fail)
http.route(path="/messages", method="POST", handler=post_message)
