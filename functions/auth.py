"""Agent accounts: signing in (``auth:signIn``, ``signOut``, ``store``, ``isAuthenticated``) and
what a signed-in agent asks about itself (``currentUser``, ``getUserWorkspaces``,
``switchWorkspace``, ``completeSignupProfile``).

Email + password through the runtime's auth library; Opencom decides what an account is
(``lib/accounts``): the sign-up params may carry ``name`` and ``workspaceName``, and a first
sign-up creates the user's own workspace. ``auth:signIn`` also serves Opencom's second provider,
the emailed code ``"resend-otp"`` (``emailCodes``), which the library does not know.

The self-service functions need only a token naming an existing user row (not the complete agent
row business functions insist on, ``lib/identity``): they are how a dashboard finds out where a
fresh account stands. Workspaces are listed the way ``workspaces:get`` shows them to a member, so
the identity-verification secret stays with owners and admins.
"""

from typing import Any

from runtime import action, internal_mutation, mutation, query, v
from runtime.auth import ConvexAuth, Password

from .emailCodes import sign_in_with_email_code
from .lib.accounts import create_or_update_user, default_workspace_name, email_local_part, opencom_profile
from .lib.email_codes import PROVIDER as EMAIL_CODE_PROVIDER
from .lib.errors import NOT_AUTHENTICATED, NOT_WORKSPACE_MEMBER, fail, not_found
from .lib.identity import Doc, auth_user_id
from .lib.permissions import Agent, find_membership
from .workspaces import member_view

auth = ConvexAuth(providers=[Password(profile=opencom_profile)], create_or_update_user=create_or_update_user)

USER_FIELDS = ("_id", "email", "name", "workspaceId", "role", "avatarUrl")
WORKSPACE_RENAMER_ROLES = ("owner", "admin")


@action(name="signIn", args=auth.sign_in.args)
async def sign_in(ctx, args):
    """Sign in with a password (the library's flow) or an emailed code; returns ``{tokens}`` or ``{started}``."""
    if args.get("provider") == EMAIL_CODE_PROVIDER:
        return await sign_in_with_email_code(ctx, args.get("params", {}))
    return await auth.sign_in.handler(ctx, args)


sign_out = auth.sign_out
store = auth.store
is_authenticated = auth.is_authenticated


async def _token_user(ctx: Any) -> Doc | None:
    """The user row the caller's token names, complete or not; None when signed out or deleted."""
    user_id = await auth_user_id(ctx)
    return await ctx.db.get(user_id) if user_id is not None else None


async def _require_token_user(ctx: Any) -> Doc:
    """Like ``_token_user`` but refusing: "Not authenticated" when signed out, "User not found" when deleted."""
    user_id = await auth_user_id(ctx)
    if user_id is None:
        fail(NOT_AUTHENTICATED, "Not authenticated")
    user = await ctx.db.get(user_id)
    if user is None:
        not_found("User")
    return user


def _user_view(user: Doc) -> Doc:
    """The user as the dashboard sees it: ``{_id, email, name, workspaceId, role, avatarUrl}`` (those present)."""
    return {field: user[field] for field in USER_FIELDS if field in user}


async def _member_workspaces(ctx: Any, user: Doc) -> list[Doc]:
    """Every workspace the user is a member of (membership order), each with the membership's ``role``."""
    memberships = (
        await ctx.db.query("workspaceMembers").with_index("by_user", lambda q: q.eq("userId", user["_id"])).collect()
    )
    listed = []
    for membership in memberships:
        workspace = await ctx.db.get(membership["workspaceId"])
        if workspace is not None:
            listed.append({**member_view(workspace, Agent(user, membership)), "role": membership["role"]})
    return listed


@query(name="currentUser", args={})
async def current_user(ctx, args):
    """``{user, workspaces}`` for the signed-in caller, or null when signed out (or the user row is gone)."""
    user = await _token_user(ctx)
    if user is None:
        return None
    return {"user": _user_view(user), "workspaces": await _member_workspaces(ctx, user)}


@query(name="getUserWorkspaces", args={})
async def get_user_workspaces(ctx, args):
    """The signed-in caller's workspaces, each with its ``role``; [] when signed out."""
    user = await _token_user(ctx)
    return await _member_workspaces(ctx, user) if user is not None else []


@mutation(name="switchWorkspace", args={"workspaceId": v.id("workspaces")})
async def switch_workspace(ctx, args):
    """Make one of the caller's workspaces its current one; returns ``{user}`` with that membership's role."""
    user = await _require_token_user(ctx)
    membership = await find_membership(ctx, user["_id"], args["workspaceId"])
    if membership is None:
        fail(NOT_WORKSPACE_MEMBER, "You are not a member of this workspace")
    await ctx.db.patch(user["_id"], {"workspaceId": args["workspaceId"]})
    return {"user": {**_user_view(user), "workspaceId": args["workspaceId"], "role": membership["role"]}}


async def _rename_default_workspace(ctx: Any, user: Doc, given_name: str, new_name: str) -> bool:
    """Rename the user's current workspace to ``new_name`` if they run it and it still has a sign-up name."""
    membership = await find_membership(ctx, user["_id"], user["workspaceId"])
    if membership is None or membership["role"] not in WORKSPACE_RENAMER_ROLES:
        return False
    workspace = await ctx.db.get(user["workspaceId"])
    if workspace is None:
        return False
    owner_name = (user.get("name") or "").strip() or given_name
    default_names = {default_workspace_name(email_local_part(user["email"]))}
    if owner_name:
        default_names.add(default_workspace_name(owner_name))
    current = workspace["name"].strip()
    if (current and current not in default_names) or current == new_name:
        return False
    await ctx.db.patch(workspace["_id"], {"name": new_name})
    return True


@mutation(name="completeSignupProfile", args={"name": v.optional(v.string()), "workspaceName": v.optional(v.string())})
async def complete_signup_profile(ctx, args):
    """Fill in the name a sign-up skipped and replace a default workspace name; never overwrites choices."""
    user = await _require_token_user(ctx)
    if not user.get("email") or not user.get("workspaceId"):
        not_found("User")
    name = (args.get("name") or "").strip()
    workspace_name = (args.get("workspaceName") or "").strip()
    user_name_updated = bool(name) and not user.get("name")
    if user_name_updated:
        await ctx.db.patch(user["_id"], {"name": name})
    workspace_name_updated = bool(workspace_name) and await _rename_default_workspace(ctx, user, name, workspace_name)
    return {"success": True, "userNameUpdated": user_name_updated, "workspaceNameUpdated": workspace_name_updated}


@internal_mutation(name="fixUserEmail", args={"userId": v.id("users"), "newEmail": v.string()})
async def fix_user_email(ctx, args):
    """Support tooling: overwrite a user's email as given; returns ``{success: true}``."""
    await ctx.db.patch(args["userId"], {"email": args["newEmail"]})
    return {"success": True}
