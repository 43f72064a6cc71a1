"""The messenger's look and home screen: defaults, normalisation and what the widget may see.

A workspace without a ``messengerSettings`` row shows Opencom's defaults. The home configuration
is always normalised before it is stored or shown: every tab in Opencom's fixed order, the
Messages tab always on, and ``launchDirectlyToConversation`` spelled out. The public view drops
the cards and tabs the visitor's audience (identified user or anonymous visitor) may not see.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from .errors import INVALID_INPUT, fail
from .identity import Doc

DEFAULT_SETTINGS: dict[str, Any] = {
    "primaryColor": "#792cd4",
    "backgroundColor": "#792cd4",
    "themeMode": "system",
    "launcherPosition": "right",
    "launcherSideSpacing": 20.0,
    "launcherBottomSpacing": 20.0,
    "showLauncher": True,
    "welcomeMessage": "Hi there! How can we help you today?",
    "showTeammateAvatars": True,
    "supportedLanguages": ["en"],
    "defaultLanguage": "en",
    "mobileEnabled": True,
}
NULLABLE_PUBLIC_FIELDS = ("teamIntroduction", "logo", "launcherIconUrl", "privacyPolicyUrl", "launcherAudienceRules")
TAB_ORDER = ("home", "messages", "help", "tours", "tasks", "tickets")
DEFAULT_CARDS = (
    {"id": "welcome-1", "type": "welcome", "visibleTo": "all"},
    {"id": "search-1", "type": "search", "visibleTo": "all"},
    {"id": "conversations-1", "type": "conversations", "visibleTo": "all"},
    {"id": "startConversation-1", "type": "startConversation", "visibleTo": "all"},
)
_HEX_COLOR = re.compile(r"^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$")
MAX_SPACING = 100.0
MAX_WELCOME_LENGTH = 500


def default_tabs() -> list[Doc]:
    return [{"id": tab, "enabled": True, "visibleTo": "all"} for tab in TAB_ORDER]


def default_home_config() -> Doc:
    return {
        "enabled": True,
        "cards": [dict(card) for card in DEFAULT_CARDS],
        "defaultSpace": "home",
        "launchDirectlyToConversation": False,
        "tabs": default_tabs(),
    }


def normalize_tabs(tabs: list[Doc] | None) -> list[Doc]:
    """Every tab in Opencom's order; configured ones keep their switches, Messages is always on."""
    if tabs is None:
        return default_tabs()
    configured = {tab["id"]: tab for tab in tabs}
    normalized = []
    for tab_id in TAB_ORDER:
        tab = configured.get(tab_id)
        if tab is None or tab_id == "messages":
            normalized.append({"id": tab_id, "enabled": True, "visibleTo": "all"})
        else:
            normalized.append({"id": tab_id, "enabled": tab["enabled"], "visibleTo": tab["visibleTo"]})
    return normalized


def normalize_home_config(config: Doc | None) -> Doc:
    """A stored (or absent) home configuration with every optional part filled in."""
    source = config if config is not None else default_home_config()
    return {
        **source,
        "launchDirectlyToConversation": source.get("launchDirectlyToConversation", False),
        "tabs": normalize_tabs(source.get("tabs")),
    }


def visible_to(audience: str, identified: bool) -> bool:
    """Whether a card or tab for ``audience`` (all/visitors/users) shows to this visitor."""
    return audience == "all" or (audience == "users") == identified


def _default_space(wanted: str, visible_tab_ids: set[str], home_enabled: bool) -> str:
    if wanted == "home" and home_enabled and "home" in visible_tab_ids:
        return "home"
    if wanted == "help" and "help" in visible_tab_ids:
        return "help"
    if "messages" in visible_tab_ids:
        return "messages"
    return "home" if home_enabled and "home" in visible_tab_ids else "help"


def public_home_config(config: Doc, identified: bool) -> Doc:
    """What the widget renders: the visitor's cards and tabs, and a default space it can open."""
    tabs = [
        tab
        for tab in config["tabs"]
        if tab["enabled"] and visible_to(tab["visibleTo"], identified) and (tab["id"] != "home" or config["enabled"])
    ]
    cards = [card for card in config["cards"] if visible_to(card["visibleTo"], identified)]
    return {
        "enabled": config["enabled"],
        "defaultSpace": _default_space(config["defaultSpace"], {tab["id"] for tab in tabs}, config["enabled"]),
        "launchDirectlyToConversation": config["launchDirectlyToConversation"],
        "cards": cards if config["enabled"] else [],
        "tabs": tabs,
    }


def public_settings(row: Doc | None, logo_url: str | None) -> Doc:
    """The settings every visitor may read: stored values over defaults, absent optionals as null."""
    row = row or {}
    public = {field: row.get(field, default) for field, default in DEFAULT_SETTINGS.items()}
    public["supportedLanguages"] = list(public["supportedLanguages"])
    for field in NULLABLE_PUBLIC_FIELDS:
        public[field] = row.get(field)
    public["logo"] = logo_url
    return public


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def check_settings(args: Doc) -> None:
    """Refuse malformed colours, URLs, spacings and over-long welcome messages (Opencom's messages)."""
    for field, label in (("primaryColor", "primary"), ("backgroundColor", "background")):
        if args.get(field) and not _HEX_COLOR.match(args[field]):
            fail(INVALID_INPUT, f"Invalid {label} color format. Must be a valid hex color (e.g., #792cd4)")
    if args.get("privacyPolicyUrl") and not _is_url(args["privacyPolicyUrl"]):
        fail(INVALID_INPUT, "Invalid privacy policy URL format")
    if args.get("launcherIconUrl") and not _is_url(args["launcherIconUrl"]):
        fail(INVALID_INPUT, "Invalid launcher icon URL format")
    for field, label in (("launcherSideSpacing", "side"), ("launcherBottomSpacing", "bottom")):
        if field in args and not 0 <= args[field] <= MAX_SPACING:
            fail(INVALID_INPUT, f"Launcher {label} spacing must be between 0 and 100 pixels")
    if len(args.get("welcomeMessage") or "") > MAX_WELCOME_LENGTH:
        fail(INVALID_INPUT, "Welcome message must be 500 characters or less")
