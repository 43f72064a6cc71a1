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
