"""Agent accounts for trusted server code: the sign-up hook, and direct workspace membership.

``createOrUpdateUser`` finds or creates the user of an email (``lib/accounts.ensure_user``), for
seeding and support tooling; ``addMembership`` puts a user in a workspace with a role and,
optionally, a custom permission list.
"""

from runtime import UNDEFINED, internal_mutation, v

from .lib.accounts import ensure_user, opencom_profile
from .lib.clock import now_ms
from .lib.errors import not_found
from .lib.permissions import find_membership
from .lib.validators import member_role


@internal_mutation(
    args={
        "email": v.optional(v.string()),
        "name": v.optional(v.string()),
        "workspaceName": v.optional(v.string()),
        "existingUserId": v.optional(v.id("users")),
    }
)
async def createOrUpdateUser(ctx, args):
    """The user for this email (created with its own workspace on first use); returns its id."""
    return await ensure_user(ctx, existing_user_id=args.get("existingUserId"), profile=opencom_profile(args))


@internal_mutation(
    args={
        "userId": v.id("users"),
        "workspaceId": v.id("workspaces"),
        "role": member_role,
        "permissions": v.optional(v.array(v.string())),
    }
)
async def addMembership(ctx, args):
    """Make ``userId`` a member of ``workspaceId`` with ``role`` (and custom permissions); returns its id."""
    if await ctx.db.get(args["userId"]) is None:
        not_found("User")
    if await ctx.db.get(args["workspaceId"]) is None:
        not_found("Workspace")
    fields = {"role": args["role"], "permissions": args.get("permissions", UNDEFINED)}
    existing = await find_membership(ctx, args["userId"], args["workspaceId"])
    if existing is not None:
        await ctx.db.patch(existing["_id"], fields)
        return existing["_id"]
    return await ctx.db.insert(
        "workspaceMembers",
        {"userId": args["userId"], "workspaceId": args["workspaceId"], "createdAt": now_ms(), **fields},
    )
