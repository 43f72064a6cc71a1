"""A carousel's screens as stored and shown: tidied (blank text dropped, ids filled in) and checked.

Clients send loosely filled screens (the editor keeps empty strings), so every write tidies them
first: strings are trimmed and empty ones dropped, buttons without text or a known action are
dropped, a screen without an id is named ``screen-<n>``. A carousel is deliverable only when it has
at least one screen, each with a title or a body, and each link button has a usable target.
"""

import re
from typing import Any

from .campaign_email import acceptable_url
from .errors import INVALID_INPUT, fail

BUTTON_ACTIONS = ("url", "dismiss", "next", "deeplink")
_DEEP_LINK = re.compile(r"^[a-z][a-z0-9+.-]*://.+", re.IGNORECASE)
# Where each status may go next; archiving is final.
STATUS_TRANSITIONS = {
    "draft": ("active", "archived"),
    "active": ("paused", "archived"),
    "paused": ("active", "archived"),
    "archived": (),
}


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _button(raw: Any) -> dict | None:
    button = raw if isinstance(raw, dict) else {}
    text, action = _text(button.get("text")), button.get("action")
    if text is None or action not in BUTTON_ACTIONS:
        return None
    tidy = {"text": text, "action": action}
    for field in ("url", "deepLink"):
        if (value := _text(button.get(field))) is not None:
            tidy[field] = value
    return tidy


def tidy_screens(raw_screens: Any) -> list[dict]:
    """The screens with blank strings, unusable buttons and missing ids sorted out (see module doc)."""
    screens = []
    for index, raw in enumerate(raw_screens if isinstance(raw_screens, list) else []):
        screen = raw if isinstance(raw, dict) else {}
        tidy: dict[str, Any] = {"id": _text(screen.get("id")) or f"screen-{index + 1}"}
        for field in ("title", "body", "imageUrl"):
            if (value := _text(screen.get(field))) is not None:
                tidy[field] = value
        buttons = [button for button in map(_button, screen.get("buttons") or []) if button is not None]
        if buttons:
            tidy["buttons"] = buttons
        screens.append(tidy)
    return screens


def checked_screens(raw_screens: Any) -> list[dict]:
    """The tidied screens, or INVALID_INPUT naming the first screen (and button) that cannot be shown."""
    screens = tidy_screens(raw_screens)
    if not screens:
        fail(INVALID_INPUT, "Carousel requires at least one screen.")
    for number, screen in enumerate(screens, start=1):
        if "title" not in screen and "body" not in screen:
            fail(INVALID_INPUT, f"Screen {number} must include a title or body.")
        for button_number, button in enumerate(screen.get("buttons", []), start=1):
            where = f"Screen {number}, button {button_number}"
            if button["action"] == "url" and not acceptable_url(button.get("url", "")):
                fail(INVALID_INPUT, f"{where} requires a valid http(s) URL.")
            if button["action"] == "deeplink" and not _DEEP_LINK.match(button.get("deepLink", "")):
                fail(INVALID_INPUT, f"{where} requires a valid deep link URL.")
    return screens


def check_transition(current: str, target: str) -> None:
    """INVALID_INPUT unless a carousel may go from ``current`` to ``target``."""
    if current == target:
        fail(INVALID_INPUT, f"Carousel is already {current}.")
    if target not in STATUS_TRANSITIONS.get(current, ()):
        fail(INVALID_INPUT, f"Cannot transition carousel from {current} to {target}.")
