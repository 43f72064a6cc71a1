"""Argument validators shared by several modules (the same shapes ``schema.py`` stores)."""

from runtime import v

_primitive = v.union(v.string(), v.number(), v.boolean(), v.null())
_leaf = v.union(_primitive, v.array(_primitive))

json_value = v.union(_leaf, v.record(v.string(), v.union(_leaf, v.record(v.string(), _leaf))))
custom_attributes = v.record(v.string(), json_value)
location = v.object(
    {
        "city": v.optional(v.string()),
        "region": v.optional(v.string()),
        "country": v.optional(v.string()),
        "countryCode": v.optional(v.string()),
    }
)
device = v.object(
    {
        "browser": v.optional(v.string()),
        "os": v.optional(v.string()),
        "deviceType": v.optional(v.string()),
        "platform": v.optional(v.string()),
    }
)
conversation_status = v.union(v.literal("open"), v.literal("closed"), v.literal("snoozed"))
identity_mode = v.union(v.literal("optional"), v.literal("required"))
member_role = v.union(v.literal("owner"), v.literal("admin"), v.literal("agent"), v.literal("viewer"))
assignable_role = v.union(v.literal("admin"), v.literal("agent"), v.literal("viewer"))
signup_mode = v.union(v.literal("invite-only"), v.literal("domain-allowlist"))
auth_method = v.union(v.literal("password"), v.literal("otp"))
event_properties = v.record(
    v.string(), v.union(_primitive, v.array(v.union(v.string(), v.number())))
)
selector_quality = v.object(
    {
        "score": v.number(),
        "grade": v.union(v.literal("good"), v.literal("fair"), v.literal("poor")),
        "warnings": v.array(v.string()),
        "signals": v.object(
            {
                "matchCount": v.optional(v.number()),
                "depth": v.number(),
                "usesNth": v.boolean(),
                "hasId": v.boolean(),
                "hasDataAttribute": v.boolean(),
                "classCount": v.number(),
                "usesWildcard": v.boolean(),
            }
        ),
    }
)
page_url_match = v.union(v.literal("exact"), v.literal("contains"), v.literal("regex"))


def trigger_config(*types: str, **extra: object) -> object:
    """The delivery trigger an item kind accepts (the trigger types it allows, plus its extra fields)."""
    return v.object(
        {
            "type": v.union(*(v.literal(kind) for kind in types)),
            "pageUrl": v.optional(v.string()),
            "pageUrlMatch": v.optional(page_url_match),
            "delaySeconds": v.optional(v.number()),
            "eventName": v.optional(v.string()),
            **extra,
        }
    )
scheduling = v.object({"startDate": v.optional(v.number()), "endDate": v.optional(v.number())})
