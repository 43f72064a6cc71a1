"""Identity verification settings: the workspace HMAC secret that proves a widget user's identity.

Admins (``settings.security``) enable it (generating a secret on first use), choose "optional"
or "required" mode, rotate the secret (old hashes stop working at once) and disable it. Members
may read whether it is on; anyone may ask whether a workspace requires it.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.audit import record_audit
from .lib.errors import INVALID_INPUT, NOT_AUTHORIZED, fail, not_found
from .lib.identity import current_user
from .lib.permissions import Agent, require_permission, signed_in_member
from .lib.sessions import resolve_session
from .lib.user_hash import generate_secret, verification_enabled, verification_required
from .lib.validators import identity_mode

SECURITY = "settings.security"


async def _security_admin(ctx: Any, workspace_id: str) -> tuple[Agent, dict]:
    agent = await require_permission(ctx, workspace_id, SECURITY)
    workspace = await ctx.db.get(workspace_id)
    if workspace is None:
        not_found("Workspace")
    return agent, workspace


async def _audit(ctx: Any, agent: Agent, workspace_id: str, action: str, metadata: dict | None = None) -> None:
    await record_audit(
        ctx,
        workspace_id=workspace_id,
        action=action,
        resource_type="workspace",
        resource_id=workspace_id,
        actor_id=agent.id,
        metadata=metadata,
    )


def _require_enabled(workspace: dict, message: str) -> None:
    if not verification_enabled(workspace):
        fail(INVALID_INPUT, message)


@query(args={"workspaceId": v.id("workspaces")})
async def getSettings(ctx, args):
    """``{enabled, mode, hasSecret}`` for members of the workspace; null otherwise."""
    workspace = await ctx.db.get(args["workspaceId"])
    if workspace is None or await signed_in_member(ctx, workspace["_id"]) is None:
        return None
    return {
        "enabled": verification_enabled(workspace),
        "mode": workspace.get("identityVerificationMode", "optional"),
        "hasSecret": bool(workspace.get("identitySecret")),
    }


@mutation(args={"workspaceId": v.id("workspaces"), "mode": v.optional(identity_mode)})
async def enable(ctx, args):
    """Turn verification on; ``secret`` is returned only when this call generated it."""
    agent, workspace = await _security_admin(ctx, args["workspaceId"])
    mode = args.get("mode", "optional")
    secret = workspace.get("identitySecret")
    is_new = not secret
    if is_new:
        secret = generate_secret()
    await ctx.db.patch(
        workspace["_id"],
        {"identitySecret": secret, "identityVerificationEnabled": True, "identityVerificationMode": mode},
    )
    await _audit(ctx, agent, workspace["_id"], "widget.identity.enabled", {"mode": mode})
    result = {"success": True, "isNewSecret": is_new, "mode": mode}
    return {**result, "secret": secret} if is_new else result


@mutation(args={"workspaceId": v.id("workspaces"), "confirmDisable": v.optional(v.boolean())})
async def disable(ctx, args):
    """Turn verification off (secret and mode are kept for re-enabling)."""
    agent, workspace = await _security_admin(ctx, args["workspaceId"])
    if args.get("confirmDisable") is False:
        fail(INVALID_INPUT, "Confirmation required to disable identity verification")
    await ctx.db.patch(workspace["_id"], {"identityVerificationEnabled": False})
    await _audit(ctx, agent, workspace["_id"], "widget.identity.disabled")
    return {"success": True}


@mutation(args={"workspaceId": v.id("workspaces"), "mode": identity_mode})
async def updateMode(ctx, args):
    """Switch between "optional" and "required"."""
    agent, workspace = await _security_admin(ctx, args["workspaceId"])
    _require_enabled(workspace, "Identity verification must be enabled first")
    previous = workspace.get("identityVerificationMode", "optional")
    await ctx.db.patch(workspace["_id"], {"identityVerificationMode": args["mode"]})
    metadata = {"setting": "identityVerificationMode", "oldValue": previous, "newValue": args["mode"]}
    await _audit(ctx, agent, workspace["_id"], "workspace.security.changed", metadata)
    return {"success": True}


@mutation(args={"workspaceId": v.id("workspaces")})
async def rotateSecret(ctx, args):
    """Replace the secret (no grace period); returns ``{success, secret}``."""
    agent, workspace = await _security_admin(ctx, args["workspaceId"])
    _require_enabled(workspace, "Identity verification must be enabled to rotate secret")
    secret = generate_secret()
    await ctx.db.patch(workspace["_id"], {"identitySecret": secret})
    await _audit(ctx, agent, workspace["_id"], "widget.identity.secret.rotated")
    return {"success": True, "secret": secret}


@query(args={"workspaceId": v.id("workspaces")})
async def getSecret(ctx, args):
    """``{secret}`` for security admins, or null when none was generated."""
    _, workspace = await _security_admin(ctx, args["workspaceId"])
    secret = workspace.get("identitySecret")
    return {"secret": secret} if secret else None


@query(args={"workspaceId": v.id("workspaces")})
async def isRequired(ctx, args):
    """``{enabled, required}``: what a widget must send for this workspace (public)."""
    workspace = await ctx.db.get(args["workspaceId"])
    if workspace is None:
        return {"enabled": False, "required": False}
    return {"enabled": verification_enabled(workspace), "required": verification_required(workspace)}


@query(args={"visitorId": v.id("visitors"), "sessionToken": v.optional(v.string())})
async def getVisitorStatus(ctx, args):
    """``{verified, verifiedAt}`` for agents (``users.read``) or the visitor's own session."""
    visitor = await ctx.db.get(args["visitorId"])
    if visitor is None:
        return None
    if await current_user(ctx) is not None:
        await require_permission(ctx, visitor["workspaceId"], "users.read")
    else:
        session = await resolve_session(ctx, args.get("sessionToken"), visitor["workspaceId"])
        if session["visitorId"] != visitor["_id"]:
            fail(NOT_AUTHORIZED, "Not authorized to access visitor verification status")
    return {"verified": bool(visitor.get("identityVerified")), "verifiedAt": visitor.get("identityVerifiedAt")}
