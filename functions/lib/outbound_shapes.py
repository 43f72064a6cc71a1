"""Argument shapes of outbound messages (the same shapes ``schema.py`` stores)."""

from runtime import v

from .validators import trigger_config

_opt = v.optional
message_type = v.union(v.literal("chat"), v.literal("post"), v.literal("banner"))
message_status = v.union(*(v.literal(status) for status in ("draft", "active", "paused", "archived")))
frequency = v.union(v.literal("once"), v.literal("once_per_session"), v.literal("always"))
impression_action = v.union(v.literal("shown"), v.literal("clicked"), v.literal("dismissed"))
triggers = trigger_config("immediate", "page_visit", "time_on_page", "scroll_depth", "event", scrollPercent=_opt(v.number()))
_button_actions = ("url", "dismiss", "tour", "open_new_conversation", "open_help_article", "open_widget_tab")
_click_actions = ("open_messenger", "open_new_conversation", "open_widget_tab", "open_help_article", "open_url", "dismiss")
content = v.object(
    {
        "text": _opt(v.string()),
        "senderId": _opt(v.id("users")),
        "title": _opt(v.string()),
        "body": _opt(v.string()),
        "imageUrl": _opt(v.string()),
        "videoUrl": _opt(v.string()),
        "style": _opt(v.union(v.literal("inline"), v.literal("floating"))),
        "dismissible": _opt(v.boolean()),
        "buttons": _opt(
            v.array(
                v.object(
                    {
                        "text": v.string(),
                        "action": v.union(*(v.literal(action) for action in _button_actions)),
                        "url": _opt(v.string()),
                        "tourId": _opt(v.id("tours")),
                        "articleId": _opt(v.id("articles")),
                        "tabId": _opt(v.string()),
                        "prefillMessage": _opt(v.string()),
                    }
                )
            )
        ),
        "clickAction": _opt(
            v.object(
                {
                    "type": v.union(*(v.literal(action) for action in _click_actions)),
                    "tabId": _opt(v.string()),
                    "articleId": _opt(v.id("articles")),
                    "url": _opt(v.string()),
                    "prefillMessage": _opt(v.string()),
                }
            )
        ),
    }
)
