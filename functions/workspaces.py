"""Workspaces: reading them (members see everything, everyone else a public subset) and creating them.

The identity-verification secret is shown only to owners and admins. Every newly created
workspace has its creator as owner and a public help center.
"""

from typing import Any

from runtime import mutation, query, v

from .lib.audit import record_audit
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail
from .lib.help_center import visitor_readable
from .lib.hosted_onboarding import WIDGET_STEP, integration_signals, new_verification_token, onboarding_view
from .lib.identity import Doc, require_user
from .lib.origins import origin_verdict
from .lib.permissions import Agent, find_membership, require_permission, signed_in_member
from .lib.validators import auth_method, signup_mode

PUBLIC_FIELDS = ("_id", "_creationTime", "name", "createdAt")
SECRET_VIEWER_ROLES = ("owner", "admin")
DEFAULT_WORKSPACE_NAME = "Default Workspace"


def member_view(workspace: Doc, agent: Agent) -> Doc:
    """The workspace as a member sees it: everything, minus the secret for non-admins."""
    if agent.role in SECRET_VIEWER_ROLES:
        return workspace
    return {key: value for key, value in workspace.items() if key != "identitySecret"}


def _public_context(workspace: Doc) -> Doc:
    return {
        "_id": workspace["_id"],
        "name": workspace["name"],
        "helpCenterAccessPolicy": workspace.get("helpCenterAccessPolicy") or "public",
    }


async def _has_public_article(ctx: Any, workspace_id: str) -> bool:
    published = ctx.db.query("articles").with_index(
        "by_status", lambda q: q.eq("workspaceId", workspace_id).eq("status", "published")
    )
    async for article in published:
        if visitor_readable(article):
            return True
    return False


async def _create_owned_workspace(ctx: Any, user: Doc, name: str, operation: str) -> str:
    now = now_ms()
    workspace_id = await ctx.db.insert(
        "workspaces", {"name": name, "createdAt": now, "helpCenterAccessPolicy": "public"}
    )
    await ctx.db.insert(
        "workspaceMembers", {"userId": user["_id"], "workspaceId": workspace_id, "role": "owner", "createdAt": now}
    )
    await record_audit(
        ctx,
        workspace_id=workspace_id,
        action="workspace.settings.changed",
        resource_type="workspace",
        resource_id=workspace_id,
        actor_id=user["_id"],
        metadata={"operation": operation, "name": name},
    )
    return workspace_id


@query(args={"id": v.id("workspaces")})
async def get(ctx, args):
    """The workspace: full document for members, ``{_id, _creationTime, name, createdAt}`` otherwise."""
    workspace = await ctx.db.get(args["id"])
    if workspace is None:
        return None
    agent = await signed_in_member(ctx, workspace["_id"])
    if agent is not None:
        return member_view(workspace, agent)
    return {field: workspace[field] for field in PUBLIC_FIELDS}


@query(args={"workspaceId": v.optional(v.id("workspaces")), "articleSlug": v.optional(v.string())})
async def getPublicWorkspaceContext(ctx, args):
    """The workspace a public help-center page belongs to: ``{_id, name, helpCenterAccessPolicy}``.

    An explicit workspace wins; else the single public workspace publishing ``articleSlug``; else
    the oldest public workspace with a published public article; else the oldest workspace.
    """
    if "workspaceId" in args:
        workspace = await ctx.db.get(args["workspaceId"])
        return _public_context(workspace) if workspace is not None else None
    if args.get("articleSlug"):
        articles = (
            await ctx.db.query("articles")
            .with_index("by_slug_only", lambda q: q.eq("slug", args["articleSlug"]))
            .collect()
        )
        candidates = {article["workspaceId"] for article in articles if visitor_readable(article)}
        workspaces = [await ctx.db.get(workspace_id) for workspace_id in sorted(candidates)]
        public = [w for w in workspaces if w is not None and w.get("helpCenterAccessPolicy", "public") == "public"]
        if len(public) == 1:
            return _public_context(public[0])
    oldest = None
    async for workspace in ctx.db.query("workspaces").with_index("by_created_at"):
        oldest = oldest or workspace
        if workspace.get("helpCenterAccessPolicy", "public") == "public" and await _has_public_article(
            ctx, workspace["_id"]
        ):
            return _public_context(workspace)
    return _public_context(oldest) if oldest is not None else None


@query(args={"name": v.string()})
async def getByName(ctx, args):
    """The workspace with exactly this name that the caller is a member of, or null."""
    named = ctx.db.query("workspaces").with_index("by_name", lambda q: q.eq("name", args["name"]))
    async for workspace in named:
        agent = await signed_in_member(ctx, workspace["_id"])
        if agent is not None:
            return member_view(workspace, agent)
    return None


@mutation(args={"name": v.string()})
async def create(ctx, args):
    """Create a workspace owned by the caller; an existing workspace of that exact name is returned instead."""
    user = await require_user(ctx)
    existing = await ctx.db.query("workspaces").with_index("by_name", lambda q: q.eq("name", args["name"])).first()
    if existing is not None:
        return existing["_id"]
    return await _create_owned_workspace(ctx, user, args["name"], "create_workspace")


@mutation(args={})
async def getOrCreateDefault(ctx, args):
    """The caller's current workspace if they still belong to it, else a new "Default Workspace" they own."""
    user = await require_user(ctx)
    current = await ctx.db.get(user["workspaceId"])
    if current is not None:
        membership = await find_membership(ctx, user["_id"], current["_id"])
        if membership is not None:
            return member_view(current, Agent(user, membership))
    workspace_id = await _create_owned_workspace(ctx, user, DEFAULT_WORKSPACE_NAME, "create_default_workspace")
    return await ctx.db.get(workspace_id)


@mutation(args={"workspaceId": v.id("workspaces"), "allowedOrigins": v.array(v.string())})
async def updateAllowedOrigins(ctx, args):
    """Set the widget origin allowlist (empty allows every origin)."""
    agent = await require_permission(ctx, args["workspaceId"], "settings.security")
    await ctx.db.patch(args["workspaceId"], {"allowedOrigins": args["allowedOrigins"]})
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="workspace.security.changed",
        resource_type="workspace",
        resource_id=args["workspaceId"],
        actor_id=agent.id,
        metadata={"setting": "allowedOrigins", "valueCount": float(len(args["allowedOrigins"]))},
    )
    return None


@query(args={"workspaceId": v.id("workspaces"), "origin": v.string()})
async def validateOrigin(ctx, args):
    """``{valid, reason}``: whether a widget on ``origin`` may talk to the workspace."""
    workspace = await ctx.db.get(args["workspaceId"])
    if workspace is None:
        return {"valid": False, "reason": "Workspace not found"}
    valid, reason = origin_verdict(workspace, args["origin"])
    return {"valid": valid, "reason": reason}


MAX_VERIFICATION_EVENTS = 20


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "token": v.string(),
        "origin": v.optional(v.string()),
        "currentUrl": v.optional(v.string()),
    }
)
async def recordHostedOnboardingVerificationEvent(ctx, args):
    """The widget reporting that it runs on a site with the onboarding token the dashboard issued.

    Answers ``{accepted: true, verifiedAt}`` or ``{accepted: false, reason}`` (no token issued, wrong
    token, origin not allowed); only an accepted event is kept (the last 20).
    """
    workspace = await ctx.db.get(args["workspaceId"])
    if workspace is None:
        return {"accepted": False, "reason": "workspace_not_found"}
    issued = workspace.get("hostedOnboardingVerificationToken")
    if not issued:
        return {"accepted": False, "reason": "token_not_issued"}
    if issued != args["token"]:
        return {"accepted": False, "reason": "token_mismatch"}
    if not origin_verdict(workspace, args.get("origin"))[0]:
        return {"accepted": False, "reason": "origin_invalid"}
    now = now_ms()
    event = {key: args[key] for key in ("token", "origin", "currentUrl") if key in args}
    events = [*workspace.get("hostedOnboardingVerificationEvents", []), {**event, "createdAt": now}]
    await ctx.db.patch(
        workspace["_id"],
        {
            "hostedOnboardingVerificationEvents": events[-MAX_VERIFICATION_EVENTS:],
            "hostedOnboardingWidgetVerifiedAt": now,
            "hostedOnboardingUpdatedAt": now,
        },
    )
    return {"accepted": True, "verifiedAt": now}


@mutation(args={"workspaceId": v.id("workspaces"), "policy": v.union(v.literal("public"), v.literal("restricted"))})
async def updateHelpCenterAccessPolicy(ctx, args):
    """Open the help center to the public web, or restrict it to agents and widget visitors."""
    agent = await require_permission(ctx, args["workspaceId"], "settings.workspace")
    await ctx.db.patch(args["workspaceId"], {"helpCenterAccessPolicy": args["policy"]})
    await record_audit(
        ctx,
        workspace_id=args["workspaceId"],
        action="workspace.settings.changed",
        resource_type="workspace",
        resource_id=args["workspaceId"],
        actor_id=agent.id,
        metadata={"setting": "helpCenterAccessPolicy", "value": args["policy"]},
    )


async def _member_workspace(ctx: Any, workspace_id: str) -> Doc | None:
    """The workspace for any of its members; None for everyone else (the shell renders null)."""
    if await signed_in_member(ctx, workspace_id) is None:
        return None
    return await ctx.db.get(workspace_id)


@query(args={"workspaceId": v.id("workspaces")})
async def getHostedOnboardingState(ctx, args):
    """The onboarding view plus what recent widget sessions show; null for non-members."""
    workspace = await _member_workspace(ctx, args["workspaceId"])
    if workspace is None:
        return None
    signals = await integration_signals(
        ctx, workspace["_id"], workspace.get("hostedOnboardingVerificationTokenIssuedAt")
    )
    return {
        **onboarding_view(workspace, signals["latestRecognizedDetectedAt"]),
        "hasRecognizedInstall": signals["hasRecognizedInstall"],
        "latestDetectedAt": signals["latestDetectedAt"],
        "latestRecognizedDetectedAt": signals["latestRecognizedDetectedAt"],
        "detectedIntegrationCount": float(len(signals["signals"])),
    }


@query(args={"workspaceId": v.id("workspaces")})
async def getHostedOnboardingIntegrationSignals(ctx, args):
    """The widget installs seen in the last 30 days, grouped by client and origin; null for non-members."""
    workspace = await _member_workspace(ctx, args["workspaceId"])
    if workspace is None:
        return None
    issued_at = workspace.get("hostedOnboardingVerificationTokenIssuedAt")
    signals = await integration_signals(ctx, workspace["_id"], issued_at)
    return {
        "tokenIssuedAt": issued_at,
        "hasRecognizedInstall": signals["hasRecognizedInstall"],
        "latestDetectedAt": signals["latestDetectedAt"],
        "latestRecognizedDetectedAt": signals["latestRecognizedDetectedAt"],
        "integrations": signals["signals"],
    }


async def _onboarding_workspace(ctx: Any, workspace_id: str) -> Doc:
    await require_permission(ctx, workspace_id, "conversations.read")
    return await ctx.db.get(workspace_id)


@mutation(args={"workspaceId": v.id("workspaces")})
async def startHostedOnboarding(ctx, args):
    """Mark onboarding as in progress (a completed one stays completed); returns the view."""
    workspace = await _onboarding_workspace(ctx, args["workspaceId"])
    view = onboarding_view(workspace)
    if view["status"] == "completed":
        return view
    await ctx.db.patch(
        workspace["_id"],
        {
            "hostedOnboardingStatus": "in_progress",
            "hostedOnboardingCurrentStep": view["currentStep"],
            "hostedOnboardingCompletedSteps": view["completedSteps"],
            "hostedOnboardingUpdatedAt": now_ms(),
        },
    )
    return onboarding_view(await ctx.db.get(workspace["_id"]))


@mutation(args={"workspaceId": v.id("workspaces")})
async def issueHostedOnboardingVerificationToken(ctx, args):
    """A new token for the install snippet (``{token, issuedAt}``); earlier installs must be seen again."""
    workspace = await _onboarding_workspace(ctx, args["workspaceId"])
    view = onboarding_view(workspace)
    now = now_ms()
    token = new_verification_token()
    await ctx.db.patch(
        workspace["_id"],
        {
            "hostedOnboardingVerificationToken": token,
            "hostedOnboardingVerificationTokenIssuedAt": now,
            "hostedOnboardingStatus": "completed" if view["status"] == "completed" else "in_progress",
            "hostedOnboardingCurrentStep": view["currentStep"],
            "hostedOnboardingCompletedSteps": view["completedSteps"],
            "hostedOnboardingUpdatedAt": now,
        },
    )
    return {"token": token, "issuedAt": now}


@mutation(args={"workspaceId": v.id("workspaces"), "token": v.optional(v.string())})
async def completeHostedOnboardingWidgetStep(ctx, args):
    """Finish the widget step once the widget has been seen; ``{success: false, reason}`` before that."""
    workspace = await _onboarding_workspace(ctx, args["workspaceId"])
    issued = workspace.get("hostedOnboardingVerificationToken")
    if args.get("token") and issued and args["token"] != issued:
        return {"success": False, "reason": "token_mismatch"}
    signals = await integration_signals(
        ctx, workspace["_id"], workspace.get("hostedOnboardingVerificationTokenIssuedAt")
    )
    view = onboarding_view(workspace, signals["latestRecognizedDetectedAt"])
    if not view["isWidgetVerified"]:
        return {"success": False, "reason": "not_verified"}
    completed = list(dict.fromkeys([*view["completedSteps"], WIDGET_STEP]))
    now = now_ms()
    await ctx.db.patch(
        workspace["_id"],
        {
            "hostedOnboardingStatus": "completed",
            "hostedOnboardingCurrentStep": 1.0,
            "hostedOnboardingCompletedSteps": completed,
            "hostedOnboardingUpdatedAt": now,
        },
    )
    return {"success": True, "status": "completed", "currentStep": 1.0, "completedSteps": completed, "updatedAt": now}


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "signupMode": signup_mode,
        "allowedDomains": v.optional(v.array(v.string())),
        "authMethods": v.optional(v.array(auth_method)),
    }
)
async def updateSignupSettings(ctx, args):
    """Who may sign up (invite only, or emails of the allowed domains) and with which methods."""
    agent = await require_permission(ctx, args["workspaceId"], "settings.security")
    workspace = await ctx.db.get(args["workspaceId"])
    domains = args.get("allowedDomains", []) if args["signupMode"] == "domain-allowlist" else []
    domains = [domain.strip().lower() for domain in domains if domain.strip()]
    if "authMethods" in args and not args["authMethods"]:
        fail(INVALID_INPUT, "At least one sign-in method is required")
    patch: Doc = {"signupMode": args["signupMode"], "allowedDomains": domains}
    if "authMethods" in args:
        patch["authMethods"] = args["authMethods"]
    await ctx.db.patch(workspace["_id"], patch)
    await record_audit(
        ctx,
        workspace_id=workspace["_id"],
        action="workspace.security.changed",
        resource_type="workspace",
        resource_id=workspace["_id"],
        actor_id=agent.id,
        metadata={
            "setting": "signup",
            "signupMode": args["signupMode"],
            "allowedDomainsCount": float(len(domains)),
            "authMethods": ",".join(patch.get("authMethods", workspace.get("authMethods", []))),
        },
    )
