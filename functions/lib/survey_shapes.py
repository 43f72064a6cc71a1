"""Argument shapes of surveys (the same shapes ``schema.py`` stores)."""

from runtime import v

from .validators import trigger_config

_labels = v.object({"low": v.optional(v.string()), "high": v.optional(v.string())})
question_type = v.union(
    *(
        v.literal(kind)
        for kind in (
            "nps", "numeric_scale", "star_rating", "emoji_rating", "dropdown", "short_text", "long_text",
            "multiple_choice",
        )  # fmt: skip
    )
)
question = v.object(
    {
        "id": v.string(),
        "type": question_type,
        "title": v.string(),
        "description": v.optional(v.string()),
        "required": v.boolean(),
        "storeAsAttribute": v.optional(v.string()),
        "options": v.optional(
            v.object(
                {
                    "scaleStart": v.optional(v.number()),
                    "scaleEnd": v.optional(v.number()),
                    "startLabel": v.optional(v.string()),
                    "endLabel": v.optional(v.string()),
                    "starLabels": v.optional(_labels),
                    "emojiCount": v.optional(v.union(v.literal(3.0), v.literal(5.0))),
                    "emojiLabels": v.optional(_labels),
                    "choices": v.optional(v.array(v.string())),
                    "allowMultiple": v.optional(v.boolean()),
                }
            )
        ),
    }
)
step_text = v.object({"title": v.string(), "description": v.optional(v.string()), "buttonText": v.optional(v.string())})
survey_format = v.union(v.literal("small"), v.literal("large"))
survey_status = v.union(*(v.literal(status) for status in ("draft", "active", "paused", "archived")))
frequency = v.union(v.literal("once"), v.literal("until_completed"))
triggers = trigger_config("immediate", "page_visit", "time_on_page", "event")
answer = v.object(
    {
        "questionId": v.string(),
        "value": v.union(v.string(), v.number(), v.boolean(), v.null(), v.array(v.string()), v.array(v.number())),
    }
)
impression_action = v.union(*(v.literal(action) for action in ("shown", "started", "completed", "dismissed")))
