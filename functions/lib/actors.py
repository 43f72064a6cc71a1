"""Who is acting in a workspace on a call open to both sides: a signed-in agent or a widget visitor.

Tickets and support attachments take either caller. A signed-in caller is always treated as an
agent and must hold the permission (a token it also sends is ignored, as for conversations);
anyone else must present a live session token of the workspace, and a ``visitorId`` it names
must be the token's visitor.
"""

from dataclasses import dataclass
from typing import Any

from .identity import current_user
from .permissions import require_permission
from .sessions import resolve_visitor


@dataclass(frozen=True)
class Actor:
    """An agent (``kind="agent"``, a user id) or a visitor (``kind="visitor"``, a visitor id)."""

    kind: str
    id: str

    @property
    def is_agent(self) -> bool:
        return self.kind == "agent"


async def workspace_actor(
    ctx: Any, workspace_id: str, session_token: str | None, visitor_id: str | None, permission: str
) -> Actor:
    """The caller as an agent holding ``permission`` in ``workspace_id``, or as the session's visitor."""
    if await current_user(ctx) is not None:
        return Actor("agent", (await require_permission(ctx, workspace_id, permission)).id)
    return Actor("visitor", await resolve_visitor(ctx, session_token, workspace_id, visitor_id))
