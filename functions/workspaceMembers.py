"""The team: members and invitations of a workspace, roles, removal and ownership transfer.

Inviting an address with an account adds it at once; any other address gets a pending invitation
(valid 7 days, see ``lib/invitations``) that its account accepts on sign-up or with
``acceptInvitation``. Either way an email goes out through the email provider. An owner's role
is changed only by ``transferOwnership``, which hands the role over in one transaction, so a
workspace with an owner always keeps exactly that one.
"""

from typing import Any

from runtime import UNDEFINED, action, internal_mutation, mutation, query, v

from .lib.audit import record_audit
from .lib.clock import now_ms
from .lib.email_provider import send_email
from .lib.errors import ALREADY_EXISTS, INVALID_INPUT, NOT_AUTHORIZED, PERMISSION_DENIED, fail, not_found
from .lib.identity import Doc, require_user
from .lib.invitations import INVITATION_LIFETIME_MS, invitation_email, invitation_open
from .lib.permissions import agent_with_permission, find_membership, require_permission, signed_in_member
from .lib.validators import assignable_role

ROLE_GRANTING_ADMIN = ("owner", "admin")
_INVITE = {
    "workspaceId": v.id("workspaces"),
    "email": v.string(),
    "role": assignable_role,
    "baseUrl": v.optional(v.string()),
}


def _person(user: Doc | None) -> str | None:
    return None if user is None else (user.get("name") or user.get("email"))


@query(args={"workspaceId": v.id("workspaces")})
async def listByWorkspace(ctx, args):
    """Members with their email, name, role and permissions (``users.read``; [] otherwise)."""
    if await agent_with_permission(ctx, args["workspaceId"], "users.read") is None:
        return []
    members = []
    memberships = ctx.db.query("workspaceMembers").with_index(
        "by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"])
    )
    async for membership in memberships:
        user = await ctx.db.get(membership["userId"])
        if user is None:
            continue
        members.append(
            {
                "_id": membership["_id"],
                "userId": membership["userId"],
                "email": user.get("email"),
                "name": user.get("name"),
                "role": membership["role"],
                "permissions": membership.get("permissions"),
                "createdAt": membership["createdAt"],
            }
        )
    return members


@query(args={})
async def listByUser(ctx, args):
    """The caller's workspaces, each with the caller's ``role`` in it."""
    user = await require_user(ctx)
    result = []
    async for membership in ctx.db.query("workspaceMembers").with_index(
        "by_user", lambda q: q.eq("userId", user["_id"])
    ):
        workspace = await ctx.db.get(membership["workspaceId"])
        if workspace is not None:
            result.append(
                {**{k: val for k, val in workspace.items() if k != "identitySecret"}, "role": membership["role"]}
            )
    return result


@query(args={"workspaceId": v.id("workspaces")})
async def getWorkspacePendingInvitations(ctx, args):
    """Open invitations with their inviter's name (``users.read``; [] otherwise)."""
    if await agent_with_permission(ctx, args["workspaceId"], "users.read") is None:
        return []
    now = now_ms()
    invitations = ctx.db.query("workspaceInvitations").with_index(
        "by_workspace", lambda q: q.eq("workspaceId", args["workspaceId"])
    )
    return [
        {**invitation, "inviterName": _person(await ctx.db.get(invitation["invitedBy"]))}
        async for invitation in invitations
        if invitation_open(invitation, now)
    ]


@query(args={})
async def getPendingInvitations(ctx, args):
    """Open invitations addressed to the caller's email, with workspace and inviter names."""
    user = await require_user(ctx)
    now = now_ms()
    invitations = ctx.db.query("workspaceInvitations").with_index("by_email", lambda q: q.eq("email", user["email"]))
    result = []
    async for invitation in invitations:
        if invitation_open(invitation, now):
            workspace = await ctx.db.get(invitation["workspaceId"])
            result.append(
                {
                    **invitation,
                    "workspaceName": (workspace or {}).get("name"),
                    "inviterName": _person(await ctx.db.get(invitation["invitedBy"])),
                }
            )
    return result


@internal_mutation(args=_INVITE)
async def createInvitation(ctx, args):
    """Add the account of ``email`` or invite the address, and email it; ``{status: added|invited}``.

    It runs as the caller of ``inviteToWorkspace``, whose identity the action passes on.
    """
    agent = await require_permission(ctx, args["workspaceId"], "users.invite")
    inviter = agent.user
    if args["role"] == "admin" and agent.role not in ROLE_GRANTING_ADMIN:
        fail(PERMISSION_DENIED, "Only owners and admins can invite admins")
    email = args["email"].strip().lower()
    if "@" not in email or len(email) > 254:
        fail(INVALID_INPUT, "A valid email address is required")
    workspace = await ctx.db.get(args["workspaceId"])
    now = now_ms()
    existing = await ctx.db.query("users").with_index("by_email", lambda q: q.eq("email", email)).first()
    if existing is not None:
        if await find_membership(ctx, existing["_id"], workspace["_id"]) is not None:
            fail(ALREADY_EXISTS, "User is already a member of this workspace")
        await ctx.db.insert(
            "workspaceMembers",
            {"userId": existing["_id"], "workspaceId": workspace["_id"], "role": args["role"], "createdAt": now},
        )
        status, resource_type, resource_id = "added", "workspaceMember", existing["_id"]
    else:
        invitations = ctx.db.query("workspaceInvitations").with_index(
            "by_email_workspace", lambda q: q.eq("email", email).eq("workspaceId", workspace["_id"])
        )
        async for invitation in invitations:
            if invitation_open(invitation, now):
                fail(ALREADY_EXISTS, "Invitation already sent to this email")
        resource_id = await ctx.db.insert(
            "workspaceInvitations",
            {
                "workspaceId": workspace["_id"],
                "email": email,
                "role": args["role"],
                "invitedBy": inviter["_id"],
                "status": "pending",
                "createdAt": now,
                "expiresAt": now + INVITATION_LIFETIME_MS,
            },
        )
        status, resource_type = "invited", "workspaceInvitation"
    await send_email(
        ctx,
        invitation_email(
            to=email,
            workspace_name=workspace["name"],
            inviter_name=_person(inviter) or "A team member",
            base_url=args.get("baseUrl"),
            added=status == "added",
            sender=ctx.env.get("EMAIL_FROM"),
        ),
    )
    await record_audit(
        ctx,
        workspace_id=workspace["_id"],
        action="user.invited",
        resource_type=resource_type,
        resource_id=resource_id,
        actor_id=inviter["_id"],
        metadata={
            "targetEmail": email,
            "role": args["role"],
            "method": "existing_user_add" if status == "added" else "email_invite",
        },
    )
    return {"status": status}


@action(args=_INVITE)
async def inviteToWorkspace(ctx, args):
    """Invite an email to the workspace (``users.invite``); ``{status: "added" | "invited"}``."""
    return await ctx.run_mutation("workspaceMembers:createInvitation", args)


@mutation(args={"invitationId": v.id("workspaceInvitations")})
async def acceptInvitation(ctx, args):
    """Join the workspace of an open invitation addressed to the caller's email."""
    user = await require_user(ctx)
    invitation = await ctx.db.get(args["invitationId"])
    if invitation is None or invitation["email"] != user.get("email"):
        fail(NOT_AUTHORIZED, "This invitation is not for you")
    if not invitation_open(invitation):
        fail(INVALID_INPUT, "Invitation is no longer valid")
    if await find_membership(ctx, user["_id"], invitation["workspaceId"]) is None:
        await ctx.db.insert(
            "workspaceMembers",
            {
                "userId": user["_id"],
                "workspaceId": invitation["workspaceId"],
                "role": invitation["role"],
                "createdAt": now_ms(),
            },
        )
    await ctx.db.patch(invitation["_id"], {"status": "accepted"})
    await record_audit(
        ctx,
        workspace_id=invitation["workspaceId"],
        action="user.invited",
        resource_type="workspaceInvitation",
        resource_id=invitation["_id"],
        actor_id=user["_id"],
        metadata={"invitationStatus": "accepted", "role": invitation["role"]},
    )
    return {"success": True}


async def _membership_in_scope(ctx: Any, membership_id: str, permission: str) -> tuple[Doc, Any]:
    membership = await ctx.db.get(membership_id)
    if membership is None:
        not_found("Membership")
    return membership, await require_permission(ctx, membership["workspaceId"], permission)


@mutation(args={"invitationId": v.id("workspaceInvitations")})
async def cancelInvitation(ctx, args):
    """Withdraw an invitation (``users.manage``); it can no longer be accepted."""
    invitation = await ctx.db.get(args["invitationId"])
    if invitation is None:
        not_found("Invitation")
    agent = await require_permission(ctx, invitation["workspaceId"], "users.manage")
    await ctx.db.patch(invitation["_id"], {"status": "declined"})
    await record_audit(
        ctx,
        workspace_id=invitation["workspaceId"],
        action="user.removed",
        resource_type="workspaceInvitation",
        resource_id=invitation["_id"],
        actor_id=agent.id,
        metadata={"invitationStatus": "declined", "targetEmail": invitation["email"]},
    )
    return {"success": True}


@mutation(args={"membershipId": v.id("workspaceMembers"), "role": assignable_role})
async def updateRole(ctx, args):
    """Change a non-owner member's role (``users.manage``; only owners and admins grant admin)."""
    membership, agent = await _membership_in_scope(ctx, args["membershipId"], "users.manage")
    if membership["role"] == "owner":
        fail(INVALID_INPUT, "Cannot change owner role. Use ownership transfer instead.")
    if args["role"] == "admin" and agent.role not in ROLE_GRANTING_ADMIN:
        fail(PERMISSION_DENIED, "Only owners and admins can promote users to admin")
    await ctx.db.patch(membership["_id"], {"role": args["role"], "permissions": UNDEFINED})
    await record_audit(
        ctx,
        workspace_id=membership["workspaceId"],
        action="user.role.changed",
        resource_type="workspaceMember",
        resource_id=membership["_id"],
        actor_id=agent.id,
        metadata={"targetUserId": membership["userId"], "previousRole": membership["role"], "newRole": args["role"]},
    )
    return {"success": True}


@mutation(args={"membershipId": v.id("workspaceMembers")})
async def remove(ctx, args):
    """Remove a non-owner member (``users.remove``)."""
    membership, agent = await _membership_in_scope(ctx, args["membershipId"], "users.remove")
    if membership["role"] == "owner":
        fail(INVALID_INPUT, "Cannot remove workspace owner. Transfer ownership first.")
    await ctx.db.delete(membership["_id"])
    await record_audit(
        ctx,
        workspace_id=membership["workspaceId"],
        action="user.removed",
        resource_type="workspaceMember",
        resource_id=membership["_id"],
        actor_id=agent.id,
        metadata={"removedUserId": membership["userId"], "removedRole": membership["role"]},
    )
    return {"success": True}


@mutation(args={"workspaceId": v.id("workspaces"), "newOwnerId": v.id("users")})
async def transferOwnership(ctx, args):
    """The owner hands ownership to another member and becomes an admin."""
    user = await require_user(ctx)
    current = await find_membership(ctx, user["_id"], args["workspaceId"])
    if current is None or current["role"] != "owner":
        fail(PERMISSION_DENIED, "Only the workspace owner can transfer ownership")
    target = await find_membership(ctx, args["newOwnerId"], args["workspaceId"])
    if target is None:
        fail(INVALID_INPUT, "New owner must be an existing workspace member")
    if target["_id"] == current["_id"]:
        return {"success": True}
    await ctx.db.patch(target["_id"], {"role": "owner", "permissions": UNDEFINED})
    await ctx.db.patch(current["_id"], {"role": "admin", "permissions": UNDEFINED})
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="user.ownership.transferred",
        resource_type="workspaceMember",
        resource_id=target["_id"],
        actor_id=user["_id"],
        metadata={"previousOwnerId": user["_id"], "newOwnerId": args["newOwnerId"]},
    )
    return {"success": True}


@query(args={"workspaceId": v.id("workspaces")})
async def getMemberRole(ctx, args):
    """``{role, permissions, isOwner}`` of the caller in the workspace, or null."""
    agent = await signed_in_member(ctx, args["workspaceId"])
    if agent is None:
        return None
    membership = agent.membership
    return {
        "role": membership["role"],
        "permissions": membership.get("permissions"),
        "isOwner": membership["role"] == "owner",
    }
