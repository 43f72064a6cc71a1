"""What signing in means for Opencom: the sign-up profile and the user/workspace it creates.

``opencom_profile`` is the password provider's profile step; ``create_or_update_user`` is the
auth library's ``create_or_update_user`` hook (auth-and-permissions §1.3). A first sign-up gets
a workspace of its own (as admin) and every membership it was invited to; later sign-ins only
fill in a missing name.

A sign-up never lands in someone else's user: an email that already has a user is linked only
when the sign-in itself proves the caller owns that address (the emailed code, whose account is
only usable once a mailed code comes back) or the caller is signed in as that very user. Any
other sign-up on a taken email gets the library's one ``account_taken`` refusal, which does not
say how the account signs in. Trusted server code (seeding, ``users:createOrUpdateUser``) uses
``ensure_user``, which finds or creates the user for an email without that check.
"""

from typing import Any

from runtime import UNDEFINED
from runtime.auth import get_auth_user_id
from runtime.auth.sign_in import account_taken

from .audit import record_audit
from .clock import now_ms
from .email_codes import PROVIDER as EMAIL_CODE_PROVIDER
from .errors import INVALID_INPUT, fail, not_found
from .invitations import invitation_open


def _trimmed(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def opencom_profile(params: dict[str, Any]) -> dict[str, Any]:
    """Sign-up params → profile: email lower-cased, name trimmed, workspace name only if non-empty."""
    profile: dict[str, Any] = {"email": (_trimmed(params.get("email")) or "").lower()}
    for field in ("name", "workspaceName"):
        value = _trimmed(params.get(field))
        if value:
            profile[field] = value
    return profile


def default_workspace_name(owner: str) -> str:
    """The name a sign-up workspace gets after its owner (their name, or their email's local part)."""
    return f"{owner}'s Workspace"


def email_local_part(email: str) -> str:
    """The part of an address before ``@`` (the whole string when there is none)."""
    return email.split("@", 1)[0]


def _workspace_name(email: str, profile: dict[str, Any]) -> str:
    if profile.get("workspaceName"):
        return profile["workspaceName"]
    return default_workspace_name(profile.get("name") or email_local_part(email))


async def _fill_name(ctx: Any, user: dict[str, Any], name: str | None) -> str:
    if name and not user.get("name"):
        await ctx.db.patch(user["_id"], {"name": name})
    return user["_id"]


async def _accept_invitations(ctx: Any, user_id: str, email: str, now: float) -> None:
    invitations = (
        await ctx.db.query("workspaceInvitations").with_index("by_email", lambda q: q.eq("email", email)).collect()
    )
    for invitation in invitations:
        if not invitation_open(invitation, now):
            continue
        workspace_id, role = invitation["workspaceId"], invitation["role"]
        await ctx.db.insert(
            "workspaceMembers", {"userId": user_id, "workspaceId": workspace_id, "role": role, "createdAt": now}
        )
        await ctx.db.patch(invitation["_id"], {"status": "accepted"})
        await record_audit(
            ctx,
            workspace_id=workspace_id,
            action="user.invited",
            resource_type="workspaceInvitation",
            resource_id=invitation["_id"],
            actor_id=user_id,
            metadata={"targetUserId": user_id, "role": role, "method": "signup"},
        )


EMAIL_PROVING_PROVIDERS = frozenset({EMAIL_CODE_PROVIDER})


async def create_or_update_user(
    ctx: Any, *, existing_user_id: str | None, provider: str, profile: dict[str, Any]
) -> str:
    """The library hook: ``ensure_user``, refusing a sign-up on a taken email it cannot prove (see above)."""
    if existing_user_id is None and provider not in EMAIL_PROVING_PROVIDERS:
        taken = await _user_by_email(ctx, (_trimmed(profile.get("email")) or "").lower())
        if taken is not None and taken["_id"] != await get_auth_user_id(ctx):
            raise account_taken()
    return await ensure_user(ctx, existing_user_id=existing_user_id, profile=profile)


async def _user_by_email(ctx: Any, email: str) -> dict[str, Any] | None:
    return await ctx.db.query("users").with_index("by_email", lambda q: q.eq("email", email)).first()


async def ensure_user(ctx: Any, *, existing_user_id: str | None, profile: dict[str, Any]) -> str:
    """The user of ``existing_user_id``, else of the profile's email (created with its workspace if new)."""
    name = _trimmed(profile.get("name"))
    if existing_user_id is not None:
        user = await ctx.db.get(existing_user_id)
        if user is None:
            not_found("User")
        return await _fill_name(ctx, user, name)
    email = (_trimmed(profile.get("email")) or "").lower()
    if not email:
        fail(INVALID_INPUT, "Email is required for signup")
    user = await _user_by_email(ctx, email)
    if user is not None:
        return await _fill_name(ctx, user, name)

    now = now_ms()
    workspace_id = await ctx.db.insert(
        "workspaces", {"name": _workspace_name(email, profile), "createdAt": now, "helpCenterAccessPolicy": "public"}
    )
    user_id = await ctx.db.insert(
        "users",
        {"email": email, "name": name or UNDEFINED, "workspaceId": workspace_id, "role": "admin", "createdAt": now},
    )
    await ctx.db.insert(
        "workspaceMembers", {"userId": user_id, "workspaceId": workspace_id, "role": "admin", "createdAt": now}
    )
    await _accept_invitations(ctx, user_id, email, now)
    return user_id
