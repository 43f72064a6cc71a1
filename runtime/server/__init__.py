"""The server: Convex's sync protocol over WebSocket and its HTTP API, for one app.

app = create_app(executor)                      # an aiohttp Application
state_of(app).auth.verify_user_token = verify   # plug in JWT verification
await serve(app_dir, data_dir, "127.0.0.1", 3210, ready=print)
"""

from runtime.server.app import create_app, serve
from runtime.server.state import ServerState, state_of

__all__ = ["ServerState", "create_app", "serve", "state_of"]
