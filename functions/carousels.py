"""Carousels: multi-screen in-app messages authored on the campaigns screen (``settings.workspace``).

Opencom's web widget never shows carousels; its mobile SDK does, through ``listActive`` (the
active carousels the session's visitor matches and has not completed or dismissed, highest
priority first) and ``recordImpression``, whose rows ``getStats`` counts. Screens are tidied and
checked on every write (``lib/carousel_screens``); status moves follow ``STATUS_TRANSITIONS``
(archiving is final). Deleting a carousel deletes its impressions, in batches.
"""

from typing import Any

from runtime import UNDEFINED, internal_mutation, mutation, query, v

from .lib.audience import Audience, validate_targeting
from .lib.authoring import copy_name, list_by_status, managed, purge_batch, readable
from .lib.carousel_screens import check_transition, checked_screens, tidy_screens
from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, fail, not_found
from .lib.identity import Doc
from .lib.permissions import require_permission
from .lib.segment_usage import stored_targeting
from .lib.visitor_access import acting_visitor, viewing_visitor

MANAGE = "settings.workspace"
PREVIEW = "conversations.read"  # what Opencom asks of an agent looking at a visitor's carousels
LIST_LIMIT = 500
STATS_SCAN_LIMIT = 20_000  # impressions counted by getStats (the oldest ones)
TERMINAL = ("completed", "dismissed")
status = v.union(*(v.literal(name) for name in ("draft", "active", "paused", "archived")))
impression_action = v.union(v.literal("shown"), v.literal("completed"), v.literal("dismissed"))
button = v.object(
    {
        "text": v.string(),
        "action": v.union(*(v.literal(name) for name in ("url", "dismiss", "next", "deeplink"))),
        "url": v.optional(v.string()),
        "deepLink": v.optional(v.string()),
    }
)
screen = v.object(
    {
        "id": v.string(),
        "title": v.optional(v.string()),
        "body": v.optional(v.string()),
        "imageUrl": v.optional(v.string()),
        "buttons": v.optional(v.array(button)),
    }
)
VISITOR_ARGS = {"visitorId": v.optional(v.id("visitors")), "sessionToken": v.optional(v.string())}


def _name(name: str) -> str:
    trimmed = name.strip()
    if not trimmed:
        fail(INVALID_INPUT, "Carousel name is required.")
    return trimmed


def _shown(carousel: Doc) -> Doc:
    return {**carousel, "screens": tidy_screens(carousel["screens"])}


async def _fields(ctx: Any, workspace_id: str, args: dict) -> dict:
    fields: dict[str, Any] = {}
    if "name" in args:
        fields["name"] = _name(args["name"])
    if "screens" in args:
        fields["screens"] = checked_screens(args["screens"])
    if "targeting" in args:
        fields["targeting"] = await validate_targeting(ctx, workspace_id, args["targeting"], "targeting rules")
        fields["audienceRules"] = UNDEFINED  # the written targeting is the one that counts
    if "priority" in args:
        fields["priority"] = args["priority"]
    return fields


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "screens": v.array(screen),
        "targeting": v.optional(v.any()),
        "priority": v.optional(v.number()),
    }
)
async def create(ctx, args):
    """Create a draft carousel; returns its id."""
    await require_permission(ctx, args["workspaceId"], MANAGE)
    fields = await _fields(ctx, args["workspaceId"], args)
    now = now_ms()
    return await ctx.db.insert(
        "carousels",
        {"workspaceId": args["workspaceId"], **fields, "status": "draft", "createdAt": now, "updatedAt": now},
    )


@mutation(
    args={
        "id": v.id("carousels"),
        "name": v.optional(v.string()),
        "screens": v.optional(v.array(screen)),
        "targeting": v.optional(v.any()),
        "priority": v.optional(v.number()),
    }
)
async def update(ctx, args):
    """Overwrite the given fields (screens are replaced whole); returns the id."""
    carousel, _ = await managed(ctx, args["id"], "Carousel", MANAGE)
    await ctx.db.patch(carousel["_id"], {**await _fields(ctx, carousel["workspaceId"], args), "updatedAt": now_ms()})
    return carousel["_id"]


@query(args={"workspaceId": v.id("workspaces"), "status": v.optional(status)})
async def list_(ctx, args):
    """The workspace's newest ``LIST_LIMIT`` carousels, newest first, of one status when given."""
    carousels = await list_by_status(ctx, "carousels", args, MANAGE, LIST_LIMIT, LIST_LIMIT)
    return [_shown(carousel) for carousel in carousels]


@query(args={"id": v.id("carousels")})
async def get(ctx, args):
    """The carousel, or null when missing or not the caller's to read."""
    carousel = await readable(ctx, args["id"], MANAGE)
    return None if carousel is None else _shown(carousel)


@mutation(args={"id": v.id("carousels")})
async def duplicate(ctx, args):
    """A draft "<name> (Copy)" with the same screens, targeting and priority; returns its id."""
    carousel, _ = await managed(ctx, args["id"], "Carousel", MANAGE)
    kept = {field: carousel[field] for field in ("targeting", "audienceRules", "priority") if field in carousel}
    now = now_ms()
    return await ctx.db.insert(
        "carousels",
        {
            "workspaceId": carousel["workspaceId"],
            "name": copy_name(carousel["name"]),
            "screens": checked_screens(carousel["screens"]),
            **kept,
            "status": "draft",
            "createdAt": now,
            "updatedAt": now,
        },
    )


async def _move(ctx: Any, carousel_id: str, target: str) -> None:
    carousel, _ = await managed(ctx, carousel_id, "Carousel", MANAGE)
    check_transition(carousel["status"], target)
    if target == "active":
        checked_screens(carousel["screens"])
    await ctx.db.patch(carousel["_id"], {"status": target, "updatedAt": now_ms()})


@mutation(args={"id": v.id("carousels")})
async def activate(ctx, args):
    """Start showing the carousel (its screens must be deliverable)."""
    await _move(ctx, args["id"], "active")


@mutation(args={"id": v.id("carousels")})
async def pause(ctx, args):
    """Stop showing an active carousel."""
    await _move(ctx, args["id"], "paused")


@mutation(args={"id": v.id("carousels")})
async def archive(ctx, args):
    """Retire the carousel for good."""
    await _move(ctx, args["id"], "archived")


@mutation(args={"id": v.id("carousels")})
async def remove(ctx, args):
    """Delete the carousel, then its impressions (batched)."""
    carousel, _ = await managed(ctx, args["id"], "Carousel", MANAGE)
    await ctx.db.delete(carousel["_id"])
    await purge_batch(ctx, "carouselImpressions", "carouselId", carousel["_id"], "carousels:purgeImpressions")


@internal_mutation(args={"carouselId": v.id("carousels")})
async def purgeImpressions(ctx, args):
    """Delete a deleted carousel's impressions, a batch at a time."""
    await purge_batch(ctx, "carouselImpressions", "carouselId", args["carouselId"], "carousels:purgeImpressions")


@query(args={"id": v.id("carousels")})
async def getStats(ctx, args):
    """Distinct visitors who saw, completed and dismissed it, and the rates (percent of those shown)."""
    carousel = await readable(ctx, args["id"], MANAGE)
    if carousel is None:
        return None
    impressions = ctx.db.query("carouselImpressions").with_index(
        "by_carousel", lambda q: q.eq("carouselId", carousel["_id"])
    )
    visitors: dict[str, set[str]] = {"shown": set(), "completed": set(), "dismissed": set()}
    for impression in await impressions.take(STATS_SCAN_LIMIT):
        visitors[impression["action"]].add(impression["visitorId"])
    shown, completed, dismissed = (float(len(visitors[action])) for action in ("shown", "completed", "dismissed"))
    return {
        "shown": shown,
        "completed": completed,
        "dismissed": dismissed,
        "uniqueVisitors": float(len(set().union(*visitors.values()))),
        "completionRate": completed / shown * 100 if shown else 0.0,
        "dismissRate": dismissed / shown * 100 if shown else 0.0,
    }


async def _finished(ctx: Any, visitor_id: str, carousel_id: str) -> Doc | None:
    rows = ctx.db.query("carouselImpressions").with_index(
        "by_visitor_carousel", lambda q: q.eq("visitorId", visitor_id).eq("carouselId", carousel_id)
    )
    async for row in rows:
        if row["action"] in TERMINAL:
            return row
    return None


@query(args={"workspaceId": v.id("workspaces"), **VISITOR_ARGS})
async def listActive(ctx, args):
    """The active carousels to show the visitor, highest priority first ([] for strangers)."""
    visitor = await viewing_visitor(ctx, args, PREVIEW)
    if visitor is None:
        return []
    audience = Audience(ctx, visitor)
    active = ctx.db.query("carousels").with_index(
        "by_workspace_status", lambda q: q.eq("workspaceId", args["workspaceId"]).eq("status", "active")
    )
    eligible = []
    for carousel in await active.take(LIST_LIMIT):
        screens = tidy_screens(carousel["screens"])
        if not screens or await _finished(ctx, visitor["_id"], carousel["_id"]) is not None:
            continue
        if await audience.matches(stored_targeting(carousel)):
            eligible.append({**carousel, "screens": screens})
    return sorted(eligible, key=lambda carousel: carousel.get("priority", 0), reverse=True)


@mutation(
    args={
        "carouselId": v.id("carousels"),
        "action": impression_action,
        "screenIndex": v.optional(v.number()),
        **VISITOR_ARGS,
    }
)
async def recordImpression(ctx, args):
    """Record that the visitor saw, completed or dismissed an active carousel; returns the impression id.

    Completing or dismissing twice returns the first such impression.
    """
    carousel = await ctx.db.get(args["carouselId"])
    if carousel is None:
        not_found("Carousel")
    visitor = await acting_visitor(
        ctx, {**args, "workspaceId": carousel["workspaceId"]}, PREVIEW, what="carousel access"
    )
    if carousel["status"] != "active":
        fail(INVALID_INPUT, "Carousel is not active.")
    if args["action"] in TERMINAL and (done := await _finished(ctx, visitor["_id"], carousel["_id"])) is not None:
        return done["_id"]
    fields = {"carouselId": carousel["_id"], "visitorId": visitor["_id"], "action": args["action"]}
    return await ctx.db.insert(
        "carouselImpressions", {**fields, "screenIndex": args.get("screenIndex", UNDEFINED), "createdAt": now_ms()}
    )
