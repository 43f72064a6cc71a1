"""Messenger settings: the widget's colours, launcher, logo and home screen.

The widget reads ``getPublicSettings`` and ``getPublicHomeConfig`` with no sign-in (defaults when
nothing is stored). Everything else is the dashboard's and needs ``settings.workspace``; its
queries answer null (or the default home) to anyone else. The logo is a file in storage: a new
one replaces (and deletes) the old one.
"""

from typing import Any

from runtime import UNDEFINED, mutation, query, v

from .lib.clock import now_ms
from .lib.errors import INVALID_INPUT, NOT_FOUND, fail
from .lib.identity import Doc, require_user
from .lib.messenger import (
    DEFAULT_SETTINGS,
    check_settings,
    normalize_home_config,
    public_home_config,
    public_settings,
)
from .lib.permissions import agent_with_permission, require_permission
from .lib.stored_files import require_unclaimed

_WS = {"workspaceId": v.id("workspaces")}
_NULLABLE_STRING = v.optional(v.union(v.string(), v.null()))
_VISIBILITY = v.union(v.literal("all"), v.literal("visitors"), v.literal("users"))
_JSON_PRIMITIVE = v.union(v.string(), v.number(), v.boolean(), v.null())
_CARD_CONFIG = v.record(
    v.string(), v.union(_JSON_PRIMITIVE, v.array(_JSON_PRIMITIVE), v.record(v.string(), _JSON_PRIMITIVE))
)
_CARD = v.object(
    {
        "id": v.string(),
        "type": v.union(*(v.literal(t) for t in ("welcome", "search", "conversations", "startConversation",
                                                  "featuredArticles", "announcements"))),
        "config": v.optional(_CARD_CONFIG),
        "visibleTo": _VISIBILITY,
    }
)  # fmt: skip
_TAB = v.object(
    {
        "id": v.union(*(v.literal(t) for t in ("home", "messages", "help", "tours", "tasks", "tickets"))),
        "enabled": v.boolean(),
        "visibleTo": _VISIBILITY,
    }
)
_HOME_CONFIG = v.object(
    {
        "enabled": v.boolean(),
        "cards": v.array(_CARD),
        "defaultSpace": v.union(v.literal("home"), v.literal("messages"), v.literal("help")),
        "launchDirectlyToConversation": v.optional(v.boolean()),
        "tabs": v.optional(v.array(_TAB)),
    }
)
_UPSERT_FIELDS = {
    "primaryColor": v.optional(v.string()),
    "backgroundColor": v.optional(v.string()),
    "themeMode": v.optional(v.union(v.literal("light"), v.literal("dark"), v.literal("system"))),
    "launcherPosition": v.optional(v.union(v.literal("right"), v.literal("left"))),
    "launcherSideSpacing": v.optional(v.number()),
    "launcherBottomSpacing": v.optional(v.number()),
    "launcherIconUrl": _NULLABLE_STRING,
    "showLauncher": v.optional(v.boolean()),
    "launcherAudienceRules": v.optional(v.any()),
    "welcomeMessage": v.optional(v.string()),
    "teamIntroduction": _NULLABLE_STRING,
    "showTeammateAvatars": v.optional(v.boolean()),
    "supportedLanguages": v.optional(v.array(v.string())),
    "defaultLanguage": v.optional(v.string()),
    "privacyPolicyUrl": _NULLABLE_STRING,
    "mobileEnabled": v.optional(v.boolean()),
}


async def _settings(ctx: Any, workspace_id: str) -> Doc | None:
    return (
        await ctx.db.query("messengerSettings")
        .with_index("by_workspace", lambda q: q.eq("workspaceId", workspace_id))
        .first()
    )


async def _logo_url(ctx: Any, row: Doc | None) -> str | None:
    if row is None:
        return None
    if "logoStorageId" in row:
        return await ctx.storage.get_url(row["logoStorageId"])
    return row.get("logo")


async def _require_settings_admin(ctx: Any, workspace_id: str) -> None:
    await require_user(ctx)
    await require_permission(ctx, workspace_id, "settings.workspace")


async def _save(ctx: Any, workspace_id: str, fields: Doc) -> str:
    """Patch the workspace's row with ``fields``, or create it from the defaults; returns its id."""
    existing = await _settings(ctx, workspace_id)
    now = now_ms()
    if existing is not None:
        await ctx.db.patch(existing["_id"], {**fields, "updatedAt": now})
        return existing["_id"]
    created = {**DEFAULT_SETTINGS, **{k: val for k, val in fields.items() if val is not UNDEFINED}}
    return await ctx.db.insert(
        "messengerSettings", {"workspaceId": workspace_id, **created, "createdAt": now, "updatedAt": now}
    )


@query(args=_WS)
async def get(ctx, args):
    """The stored row (``settings.workspace``), or null."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return None
    return await _settings(ctx, args["workspaceId"])


@query(args=_WS)
async def getOrCreate(ctx, args):
    """The stored row with its logo URL, or the defaults as a row would hold them (``settings.workspace``)."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return None
    row = await _settings(ctx, args["workspaceId"])
    if row is None:
        now = now_ms()
        return {"workspaceId": args["workspaceId"], **public_settings(None, None), "logoStorageId": None,
                "createdAt": now, "updatedAt": now}  # fmt: skip
    if "logoStorageId" in row:
        return {**row, "logo": await _logo_url(ctx, row)}
    return row


@query(args=_WS)
async def getPublicSettings(ctx, args):
    """What the widget styles itself with; the defaults for a workspace that stored nothing."""
    row = await _settings(ctx, args["workspaceId"])
    return public_settings(row, await _logo_url(ctx, row))


@mutation(args={**_WS, **_UPSERT_FIELDS})
async def upsert(ctx, args):
    """Change the given settings (null clears an optional URL or text); returns the row id."""
    await _require_settings_admin(ctx, args["workspaceId"])
    check_settings(args)
    fields = {name: (UNDEFINED if args[name] is None else args[name]) for name in _UPSERT_FIELDS if name in args}
    return await _save(ctx, args["workspaceId"], fields)


@mutation(args=_WS)
async def generateLogoUploadUrl(ctx, args):
    """A URL to upload a new logo to."""
    await _require_settings_admin(ctx, args["workspaceId"])
    if await ctx.db.get(args["workspaceId"]) is None:
        fail(NOT_FOUND, "Workspace not found")
    return await ctx.storage.generate_upload_url()


@mutation(args={**_WS, "storageId": v.id("_storage")})
async def saveLogo(ctx, args):
    """Make an uploaded file the logo, deleting the previous logo file."""
    await _require_settings_admin(ctx, args["workspaceId"])
    url = await ctx.storage.get_url(args["storageId"])
    if url is None:
        fail(NOT_FOUND, "Uploaded file not found")
    existing = await _settings(ctx, args["workspaceId"])
    await require_unclaimed(ctx, args["storageId"], existing["_id"] if existing is not None else None)
    if existing is not None and "logoStorageId" in existing and existing["logoStorageId"] != args["storageId"]:
        await ctx.storage.delete(existing["logoStorageId"])
    return await _save(ctx, args["workspaceId"], {"logoStorageId": args["storageId"], "logo": url})


@mutation(args=_WS)
async def deleteLogo(ctx, args):
    """Remove the logo and its file."""
    await _require_settings_admin(ctx, args["workspaceId"])
    existing = await _settings(ctx, args["workspaceId"])
    if existing is None:
        fail(NOT_FOUND, "Messenger settings not found")
    if "logoStorageId" in existing and await ctx.storage.get_metadata(existing["logoStorageId"]) is not None:
        await ctx.storage.delete(existing["logoStorageId"])
    await ctx.db.patch(existing["_id"], {"logoStorageId": UNDEFINED, "logo": UNDEFINED, "updatedAt": now_ms()})
    return existing["_id"]


@query(args=_WS)
async def getHomeConfig(ctx, args):
    """The full home configuration (``settings.workspace``); the default one to anyone else."""
    if await agent_with_permission(ctx, args["workspaceId"], "settings.workspace") is None:
        return normalize_home_config(None)
    row = await _settings(ctx, args["workspaceId"])
    return normalize_home_config((row or {}).get("homeConfig"))


@query(args={**_WS, "isIdentified": v.optional(v.boolean())})
async def getPublicHomeConfig(ctx, args):
    """The home screen as this visitor sees it (identified users and anonymous visitors differ)."""
    row = await _settings(ctx, args["workspaceId"])
    config = normalize_home_config((row or {}).get("homeConfig"))
    return public_home_config(config, args.get("isIdentified", False))


async def _home(ctx: Any, workspace_id: str, *, must_exist: bool = False) -> Doc:
    await _require_settings_admin(ctx, workspace_id)
    row = await _settings(ctx, workspace_id)
    if must_exist and (row is None or "homeConfig" not in row):
        fail(NOT_FOUND, "Home configuration not found")
    return normalize_home_config((row or {}).get("homeConfig"))


def _card_index(config: Doc, card_id: str) -> int:
    for index, card in enumerate(config["cards"]):
        if card["id"] == card_id:
            return index
    fail(NOT_FOUND, "Card not found")


@mutation(args={**_WS, "homeConfig": _HOME_CONFIG})
async def updateHomeConfig(ctx, args):
    """Replace the home configuration (card ids must be unique)."""
    await _require_settings_admin(ctx, args["workspaceId"])
    ids = [card["id"] for card in args["homeConfig"]["cards"]]
    if len(set(ids)) != len(ids):
        fail(INVALID_INPUT, "Card IDs must be unique")
    return await _save(ctx, args["workspaceId"], {"homeConfig": normalize_home_config(args["homeConfig"])})


@mutation(args={**_WS, "enabled": v.boolean()})
async def toggleHomeEnabled(ctx, args):
    """Switch the home screen on or off."""
    config = await _home(ctx, args["workspaceId"])
    return await _save(ctx, args["workspaceId"], {"homeConfig": {**config, "enabled": args["enabled"]}})


@mutation(args={**_WS, "card": _CARD, "position": v.optional(v.number())})
async def addHomeCard(ctx, args):
    """Insert a card at ``position`` (the end by default); ids are unique."""
    config = await _home(ctx, args["workspaceId"])
    if any(card["id"] == args["card"]["id"] for card in config["cards"]):
        fail(INVALID_INPUT, "A card with this ID already exists")
    cards = list(config["cards"])
    cards.insert(int(args.get("position", len(cards))), args["card"])
    return await _save(ctx, args["workspaceId"], {"homeConfig": {**config, "cards": cards}})


@mutation(args={**_WS, "cardId": v.string()})
async def removeHomeCard(ctx, args):
    """Remove a card (an unknown id changes nothing)."""
    config = await _home(ctx, args["workspaceId"], must_exist=True)
    cards = [card for card in config["cards"] if card["id"] != args["cardId"]]
    return await _save(ctx, args["workspaceId"], {"homeConfig": {**config, "cards": cards}})


@mutation(args={**_WS, "cardIds": v.array(v.string())})
async def reorderHomeCards(ctx, args):
    """Keep exactly the listed cards, in the listed order."""
    config = await _home(ctx, args["workspaceId"], must_exist=True)
    by_id = {card["id"]: card for card in config["cards"]}
    for card_id in args["cardIds"]:
        if card_id not in by_id:
            fail(NOT_FOUND, f'Card with ID "{card_id}" not found')
    cards = [by_id[card_id] for card_id in args["cardIds"]]
    return await _save(ctx, args["workspaceId"], {"homeConfig": {**config, "cards": cards}})


@mutation(
    args={
        **_WS,
        "cardId": v.string(),
        "updates": v.object({"config": v.optional(_CARD_CONFIG), "visibleTo": v.optional(_VISIBILITY)}),
    }
)
async def updateHomeCard(ctx, args):
    """Change one card's config or audience."""
    config = await _home(ctx, args["workspaceId"], must_exist=True)
    index = _card_index(config, args["cardId"])
    cards = list(config["cards"])
    cards[index] = {**cards[index], **args["updates"]}
    return await _save(ctx, args["workspaceId"], {"homeConfig": {**config, "cards": cards}})
